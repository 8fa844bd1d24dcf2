"""The alerts that fired during a review's period, asked of Prometheus (CRMKPI_PROMETHEUS_URL).

`max_over_time(ALERTS{alertstate="firing"}[7d])` at the time of the review: every alert
series that fired at some point in the last 7 (or 30) days. A Prometheus that does not
answer leaves the section out of the review, with a warning, rather than holding it back.
"""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson

from kpis.review.model import PERIOD_RANGE, FiredAlert, Review, build_review
from streams.errors import MonitorUnreachable

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0
OMITTED_LABELS = ("__name__", "alertname", "alertstate", "severity")


def fired_query(period: str) -> str:
    """The PromQL of the alerts that fired during `period`."""
    return f'max_over_time(ALERTS{{alertstate="firing"}}[{PERIOD_RANGE[period]}])'


def alerts_fired(prometheus_url: str, period: str) -> tuple[FiredAlert, ...]:
    """Each alert series that fired during `period`, sorted by name and labels."""
    query = urllib.parse.urlencode({"query": fired_query(period)})
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{query}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            answer = orjson.loads(response.read())
        series = answer["data"]["result"]
        alerts = [
            FiredAlert(
                s["metric"]["alertname"],
                s["metric"].get("severity", ""),
                {k: v for k, v in s["metric"].items() if k not in OMITTED_LABELS},
            )
            for s in series
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MonitorUnreachable(f"Prometheus at {prometheus_url}: {error}") from None
    return tuple(sorted(alerts, key=lambda a: (a.alertname, sorted(a.labels.items()))))


def review_with_alerts(
    document: Mapping[str, Any], period: str, prometheus_url: str | None
) -> Review:
    """The review of a `/kpis` document, with the alerts that fired when Prometheus is set."""
    alerts = None
    if prometheus_url:
        try:
            alerts = alerts_fired(prometheus_url, period)
        except MonitorUnreachable as error:
            log.warning("review without its alerts: %s", error)
    return build_review(document, period, alerts=alerts)
