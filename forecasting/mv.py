"""Forecasting models as M&V baselines: registers ``prophet`` into
:data:`wattlens.analytics.savings.BASELINE_MODELS`.

Analytics never imports forecasting; entry points that offer the Prophet baseline
(``wattlens savings``, the dashboard) import this module. Importing it is cheap: Prophet
itself loads when the baseline is first fitted.
"""

from __future__ import annotations

from wattlens.analytics.savings import (
    Fitted,
    Inputs,
    SavingsError,
    interval_split,
    obs_frame,
    register_baseline,
)
from wattlens.forecasting.features import ForecastInputError
from wattlens.forecasting.guard import clip
from wattlens.forecasting.models import fit_model

PROPHET_MODEL = "prophet-flat"
"""The forecast model fitted as the ``prophet`` baseline: a flat trend, so the baseline
period's drift is not extrapolated into the reporting period."""


@register_baseline("prophet")
def prophet(inp: Inputs) -> Fitted:
    """The forecasting package's Prophet model with a flat trend, fitted on the baseline."""
    base, rep = interval_split(inp, "prophet")
    weather = inp.temperature.rename("temperature").to_frame()
    try:
        model = fit_model(PROPHET_MODEL, base.rename("baseline"), weather, inp.calendar)
    except ForecastInputError as exc:
        raise SavingsError(f"baseline {inp.baseline}: {exc}") from None
    floor = min(0.0, float(base.min()))  # energy is never forecast below what it can read
    fitted = clip(model.predict(base.index, weather), floor)["yhat"].to_numpy()
    predicted = clip(model.predict(rep.index, weather), floor)["yhat"].to_numpy()
    return Fitted(
        baseline=obs_frame(base.index, base.to_numpy(), fitted),
        reporting=obs_frame(rep.index, rep.to_numpy(), predicted),
        n_params=model.n_params,
        granularity="hourly",
        detail={"prophet": {"version": model.version}},
        form=PROPHET_MODEL,
    )
