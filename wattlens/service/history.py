"""Job-run history of the service: written by the scheduler, read by ``wattlens jobs`` and the
dashboard's Jobs page. It lives in :mod:`wattlens.store.jobruns` (the store layer, which the
dashboard may import); this module names it for the service."""

from wattlens.store.jobruns import KIND, job_history, last_start, record_run

__all__ = ["KIND", "job_history", "last_start", "record_run"]
