"""Every event's explanation is stored as data beside its English sentence, and the dashboard
writes it in the reader's language from that data (events stored before keep their text)."""

from __future__ import annotations

import json
import re

from wattlens.analytics.anomalies import detect, explanation
from wattlens.dashboard.i18n import locale_context
from wattlens.dashboard.labels import explained

from .synthetic import hourly_index, local_mask, office
from .test_events import LONDON, TARIFFS, stored


def _saturday_event() -> dict:
    """The details of one 'weekend' event: 40 kWh/h more on Saturday 16 March 2019 08-18."""
    series = office(hourly_index("2019-01-07", "2019-04-01"))
    saturday = (series.index >= "2019-03-16T00:00Z") & (series.index < "2019-03-17T00:00Z")
    series[saturday & local_mask(series.index, hours=(8, 18))] += 40.0
    result = detect(stored(series), "2019-03-04T00:00Z", "2019-04-01T00:00Z",
                    calendar=LONDON, tariff=TARIFFS.for_meter("m1", "electricity"))
    (event,) = result.events.itertuples()
    return json.loads(event.details)


def test_explanations_are_data_and_read_in_korean_and_english():
    details = _saturday_event()
    args = details["explanation_args"]
    assert args["shape"] == "used" and args["norm"] == "Saturday" and args["tz"] == LONDON.timezone
    assert explanation(args) == details["explanation"]
    with locale_context("ko"):
        ko = explained(args, details["explanation"])
    assert ko.startswith("2019년 3월 16일 (토) 08:00–18:00 사용량 "), ko
    assert "평소 토요일" in ko and "kWh" in ko
    assert not re.search(r"[A-Za-z]{3,}", ko.replace("kWh", "")), f"English left in {ko!r}"
    with locale_context("en"):
        en = explained(args, details["explanation"])
    assert en.startswith("Sat, Mar 16, 2019 08:00–18:00 used ") and "above the usual Saturday" in en
    excess = f"{args['excess_kwh']:,.0f} kWh (+{args['share_pct']:.0f} %)"
    assert excess in en and excess in details["explanation"]


def test_an_event_stored_before_keeps_its_text():
    with locale_context("ko"):
        assert explained(None, "Tuesday evening ran late.") == "Tuesday evening ran late."
        assert explained({"shape": "from-a-newer-version"}, "Later.") == "Later."
