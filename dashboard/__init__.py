"""The wattlens dashboard: a Dash multi-page app reading everything through a Store.

``wattlens.dashboard.app.create_app(config_or_store)`` builds the app;
``wattlens.dashboard.app:server`` is the WSGI entry point for gunicorn. Only
:mod:`wattlens.dashboard.queries` holds the store; callbacks are thin (``data`` → ``figures``).
Importing this package is cheap: nothing touches Dash or a store.
"""
