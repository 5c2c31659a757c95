"""Turn any callback failure into a readable message, never a traceback.

:func:`on_error` is the app-wide Dash error handler: it puts the message in the shell's error
banner and in place of every output of the failed callback (a message figure for graphs).
"""

from __future__ import annotations

import logging
from typing import Any

from dash import ctx, no_update, set_props

from wattlens.dashboard import figures
from wattlens.dashboard.access import AccessDenied
from wattlens.dashboard.i18n import _
from wattlens.store.base import StoreError, StoreUnavailable
from wattlens.store.schema import ContractError

log = logging.getLogger(__name__)


def readable(exc: BaseException) -> str:
    """A message for the page: the error's own words when it is ours, else a pointer to logs."""
    if isinstance(exc, StoreUnavailable):
        return _("The data store cannot be reached right now: %(error)s. The page retries by "
                 "itself.", error=exc)
    if isinstance(exc, AccessDenied | StoreError | ContractError | ValueError):
        return str(exc)
    return _("Something went wrong while preparing this view (%(error)s); the server log has "
             "the details.", error=type(exc).__name__)


def _placeholder(prop: str, text: str) -> Any:
    if prop == "figure":
        return figures.message(text)
    if prop == "children":
        return text
    if prop == "rowData":
        return []
    return no_update


def on_error(exc: Exception) -> Any:
    """Dash ``on_error`` handler: log, show the banner, fill the outputs with the message."""
    text = readable(exc)
    if isinstance(exc, AccessDenied):
        log.warning("refused: %s", exc)
    else:
        log.error("callback failed: %s", text, exc_info=exc)
    set_props("error-banner", {"children": text, "style": {"display": "block"}})
    outputs = ctx.outputs_list
    if isinstance(outputs, dict):
        return _placeholder(outputs["property"], text)
    flat = [o for item in outputs for o in (item if isinstance(item, list) else [item])]
    return [_placeholder(o["property"], text) for o in flat]
