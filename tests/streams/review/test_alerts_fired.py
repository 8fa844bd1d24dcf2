"""The alerts that fired during the period, from Prometheus' query API (a stand-in here)."""

from __future__ import annotations

import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from kpis.review.model import FiredAlert
from streams.errors import MonitorUnreachable
from streams.review.alerts_fired import alerts_fired
from streams.review.build import review_with_prometheus
from tests.conftest import free_port
from tests.http_servers import json_monitor
from tests.kpis.test_review import SNAPSHOT

QUERIES: list[str] = []


def prometheus(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    QUERIES.append(urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)["query"][0])
    series = [
        {
            "metric": {
                "__name__": "ALERTS",
                "alertname": name,
                "alertstate": "firing",
                "severity": "critical",
                "kpi": "csat",
                "window": "24h",
            },
            "value": [1775000000, "1"],
        }
        for name in ("CrmkpiCsatLow", "CrmkpiChurnHigh")
    ]
    return 200, {"status": "success", "data": {"resultType": "vector", "result": series}}


def test_alerts_fired_are_read_from_alerts_over_the_period() -> None:
    QUERIES.clear()
    with json_monitor(prometheus) as url:
        fired = alerts_fired(url, "month")
    assert QUERIES == ['max_over_time(ALERTS{alertstate="firing"}[30d])']
    labels = {"kpi": "csat", "window": "24h"}
    assert fired == (
        FiredAlert("CrmkpiChurnHigh", "critical", labels),
        FiredAlert("CrmkpiCsatLow", "critical", labels),
    )


def test_a_prometheus_that_does_not_answer_leaves_the_section_out() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MonitorUnreachable, match="Prometheus at"):
        alerts_fired(url, "week")
    assert review_with_prometheus(SNAPSHOT, "week", url).alerts is None
    with json_monitor(prometheus) as up:
        assert len(review_with_prometheus(SNAPSHOT, "week", up).alerts or ()) == 2
