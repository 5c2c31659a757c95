"""The ``[forecasting]`` section of the config: settings of the forecasting layer, each a
frozen model defined beside the code it tunes."""

from __future__ import annotations

from pydantic import Field

from wattlens.core.base import Frozen
from wattlens.forecasting.guard import GuardSettings


class ForecastingSettings(Frozen):
    """``[forecasting.guard]``."""

    guard: GuardSettings = Field(
        default_factory=GuardSettings,
        description="the plausibility guard every issued forecast passes: when a forecast "
                    "counts as a failure and which baselines replace it",
    )
