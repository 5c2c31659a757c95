"""The ``[analytics]`` section of the config: the settings of every detector, recommendation
rule and baseline model, each a frozen model defined beside the code it tunes."""

from __future__ import annotations

from pydantic import Field

from wattlens.analytics.anomalies import AnomalySettings
from wattlens.analytics.recommendations import RecommendationSettings
from wattlens.analytics.savings import SavingsSettings
from wattlens.core.base import Frozen


class AnalyticsSettings(Frozen):
    """``[analytics.anomalies]``, ``[analytics.recommendations]``, ``[analytics.savings]``."""

    anomalies: AnomalySettings = Field(
        default_factory=AnomalySettings, description="anomaly detectors"
    )
    recommendations: RecommendationSettings = Field(
        default_factory=RecommendationSettings, description="recommendation rules"
    )
    savings: SavingsSettings = Field(
        default_factory=SavingsSettings, description="M&V baseline models"
    )
