"""CalTRACK 2.0 baseline models, one home for each:

- :mod:`~wattlens.analytics.caltrack.daily` — daily and billing HDD/CDD change-point models;
- :mod:`~wattlens.analytics.caltrack.hourly` — hourly time-of-week-and-temperature (TOWT);
- :mod:`~wattlens.analytics.caltrack.degree_days` — degree days and the balance-point search
  both they and forecasting use.

M&V (:mod:`wattlens.analytics.savings`) fits them as baselines; forecasting wraps the hourly
model as its ``towt`` forecast model.
"""

from wattlens.analytics.caltrack.daily import (
    CaltrackError,
    DailyModel,
    DailySettings,
    day_temperatures,
    fit_daily_model,
    t_quantile,
)
from wattlens.analytics.caltrack.hourly import TowtError, TowtModel, TowtSettings, fit_towt

__all__ = [
    "CaltrackError",
    "DailyModel",
    "DailySettings",
    "TowtError",
    "TowtModel",
    "TowtSettings",
    "day_temperatures",
    "fit_daily_model",
    "fit_towt",
    "t_quantile",
]
