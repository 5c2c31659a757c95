"""Forecasting: Prophet per meter with weather and calendar, persistence and TOWT baselines,
rolling-origin backtests, forecasts kept as issued, many meters on dask.distributed.

Modules: :mod:`~wattlens.forecasting.features` (input checks, temperature at given times),
:mod:`~wattlens.forecasting.models` (registry and interface),
:mod:`~wattlens.forecasting.prophet_model`, :mod:`~wattlens.forecasting.baselines`,
:mod:`~wattlens.forecasting.towt_model` (wrapping :mod:`wattlens.analytics.caltrack.hourly`),
:mod:`~wattlens.forecasting.backtest`,
:mod:`~wattlens.forecasting.mv` (registers the ``prophet`` M&V baseline into analytics),
:mod:`~wattlens.forecasting.runner`,
:mod:`~wattlens.forecasting.jobs` (the commands are in :mod:`wattlens.cli.forecast`).
"""
