"""Fixtures shared by the M&V tests."""

from __future__ import annotations

import pandas as pd
import pytest

from . import synthetic


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    """The constructed meters' hourly outdoor temperature [degC]."""
    return synthetic.temperature()
