"""Forecasting: Prophet per meter with weather and calendar, persistence and TOWT baselines,
rolling-origin backtests, forecasts kept as issued, many meters on dask.distributed.

Modules: :mod:`~forecasting.features` (calendar, degree terms), :mod:`~forecasting.models`
(registry and interface), :mod:`~forecasting.prophet_model`, :mod:`~forecasting.baselines`,
:mod:`~forecasting.towt_model`, :mod:`~forecasting.backtest`, :mod:`~forecasting.runner`,
:mod:`~forecasting.jobs`, :mod:`~forecasting.cli`.
"""
