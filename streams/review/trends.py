"""Each KPI's daily values over a review's period, from Prometheus, for its sparklines.

A KPI's trend is its overall recorded series (`window:crmkpi_csat:ratio`, the recording
rules of deploy/prometheus) in the `24h` window, sampled once a day up to the time of the
review: each point is the KPI over one day, so the week has 7 points and the month 30.
A KPI without a `24h` window is sampled in its own (`now` for the current-state KPIs: the
level at each day's end; `30d` for customer lifetime value).
"""

from __future__ import annotations

import math
from typing import Any

from kpis.catalogue import Kpi
from kpis.recording_rules import recorded_name
from kpis.review.model import PERIOD_DAYS
from streams.errors import MonitorUnreachable
from streams.review.prometheus_api import prometheus_result

DAILY_WINDOW = "24h"
DAY_SECONDS = 86_400


def trend_query(kpi: Kpi) -> str:
    """`window:crmkpi_csat:ratio{window="24h"}`."""
    window = DAILY_WINDOW if DAILY_WINDOW in kpi.windows else kpi.windows[0]
    return f'{recorded_name(kpi, per_dimension=False)}{{window="{window}"}}'


def daily_values(result: list[Any], start: int, days: int) -> tuple[float | None, ...]:
    """The range query's values at `start` and each following day; None where it has none."""
    found: dict[int, float] = {}
    for series in result[:1]:  # the overall series is one series
        for stamp, text in series["values"]:
            value = float(text)
            if math.isfinite(value):
                found[round(float(stamp))] = value
    return tuple(found.get(start + day * DAY_SECONDS) for day in range(days))


def daily_trends(
    prometheus_url: str, period: str, kpis: tuple[Kpi, ...], end: float
) -> dict[str, tuple[float | None, ...]]:
    """Each KPI's daily values over `period`, the last one at `end` (Unix seconds)."""
    days = PERIOD_DAYS[period]
    last = int(end)
    start = last - (days - 1) * DAY_SECONDS
    trends = {}
    for kpi in kpis:
        params = {
            "query": trend_query(kpi),
            "start": str(start),
            "end": str(last),
            "step": str(DAY_SECONDS),
        }
        result = prometheus_result(prometheus_url, "/api/v1/query_range", params)
        try:
            trends[kpi.name] = daily_values(result, start, days)
        except (KeyError, TypeError, ValueError) as error:
            raise MonitorUnreachable(f"Prometheus at {prometheus_url}: {error}") from None
    return trends
