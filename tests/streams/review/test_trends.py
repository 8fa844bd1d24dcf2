"""The KPIs' daily trends from Prometheus' range queries (a stand-in here; the real one in
tests/integration/test_review_trends.py)."""

from __future__ import annotations

import logging
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from kpis.catalogue import KPIS_BY_NAME
from streams.errors import MonitorUnreachable
from streams.review.build import review_with_prometheus
from streams.review.trends import DAY_SECONDS, daily_trends, trend_query
from tests.conftest import free_port
from tests.http_servers import json_monitor
from tests.kpis.test_review import SNAPSHOT

END = 1_775_000_000
ASKED: list[dict[str, str]] = []


def range_answer(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    """Day 0 and day 2 have values, day 1 none, day 3 NaN (a zero denominator)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    ASKED.append({name: values[0] for name, values in query.items()})
    start = int(query["start"][0])
    values = [[start, "0.5"], [start + 2 * DAY_SECONDS, "0.75"], [start + 3 * DAY_SECONDS, "NaN"]]
    series = [{"metric": {"window": "24h"}, "values": values}]
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": series}}


def test_each_point_is_one_day_of_the_period() -> None:
    ASKED.clear()
    kpis = (KPIS_BY_NAME["csat"], KPIS_BY_NAME["mrr"])
    with json_monitor(range_answer) as url:
        trends = daily_trends(url, "week", kpis, END + 0.9)
    start = END - 6 * DAY_SECONDS
    expected = {"csat": (0.5, None, 0.75, None, None, None, None)}
    assert trends == {**expected, "mrr": expected["csat"]}
    window = {"start": str(start), "end": str(END), "step": str(DAY_SECONDS)}
    assert [
        {"query": 'window:crmkpi_csat:ratio{window="24h"}', **window},
        {"query": 'window:crmkpi_mrr:sum{window="now"}', **window},
    ] == ASKED


def test_a_kpi_without_a_day_window_is_sampled_in_its_own() -> None:
    clv = KPIS_BY_NAME["customer_lifetime_value"]
    assert trend_query(clv) == 'window:crmkpi_customer_lifetime_value:clv{window="30d"}'


def test_without_an_answer_the_review_has_no_trends(caplog: pytest.LogCaptureFixture) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MonitorUnreachable, match="Prometheus at"):
        daily_trends(down, "month", (KPIS_BY_NAME["csat"],), END)
    with caplog.at_level(logging.WARNING):
        review = review_with_prometheus(SNAPSHOT, "week", down)
    assert review.trends == {} and review.alerts is None
    assert "review without its sparklines" in caplog.text
    assert review_with_prometheus(SNAPSHOT, "week", None).trends == {}
