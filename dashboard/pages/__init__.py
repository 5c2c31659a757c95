"""Dashboard pages, one module each; Dash imports them (``use_pages``), nothing else does."""
