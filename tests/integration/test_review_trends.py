"""The review's daily trends from a real Prometheus running crmkpi's recording rules: each
KPI's query names a recorded series, and the day of the review holds /kpis' value."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from kpis.catalogue import CATALOGUE
from streams.review.trends import DAILY_WINDOW, daily_trends
from tests.integration.test_review_schedule import produce_history
from tests.processes import wait_idle, worker
from tests.prometheus import prometheus
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
KPI_RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "rules" / "crmkpi-kpis.rules.yml"


def test_the_last_day_of_each_trend_is_the_value_of_kpis(broker: str, tmp_path: Path) -> None:
    events = produce_history(broker, tmp_path)
    with worker(broker, tmp_path) as (url, _):
        snapshot = wait_idle(url, accepted_at_least=events)
        overall = {(s["kpi"], s["window"]): s["value"] for s in snapshot["kpis"] if not s["labels"]}
        expected = {}
        for kpi in CATALOGUE:
            window = DAILY_WINDOW if DAILY_WINDOW in kpi.windows else kpi.windows[0]
            expected[kpi.name] = overall.get((kpi.name, window))
        known = [name for name, value in expected.items() if value is not None]
        assert len(known) >= len(CATALOGUE) // 2, expected  # the history fills most
        with prometheus([url.removeprefix("http://")], tmp_path, [KPI_RULES]) as prom:
            trends = wait_until(
                lambda: daily_trends(prom.url, "week", CATALOGUE, time.time()),
                "every known KPI recorded",
                lambda found: all(found[name][-1] is not None for name in known),
            )
    for name, value in expected.items():
        *earlier, last = trends[name]
        assert earlier == [None] * 6, name  # Prometheus holds only today
        if value is None:
            assert last is None, name
        else:
            assert last is not None and math.isclose(last, value, rel_tol=1e-9), (name, last, value)
