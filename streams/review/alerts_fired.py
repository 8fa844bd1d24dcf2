"""The alerts that fired during a review's period, asked of Prometheus (CRMKPI_PROMETHEUS_URL).

`max_over_time(ALERTS{alertstate="firing"}[7d])` at the time of the review: every alert
series that fired at some point in the last 7 (or 30) days. A Prometheus that does not
answer leaves the section out of the review, with a warning, rather than holding it back.
"""

from __future__ import annotations

from kpis.review.model import PERIOD_RANGE, FiredAlert
from streams.errors import MonitorUnreachable
from streams.review.prometheus_api import prometheus_result

OMITTED_LABELS = ("__name__", "alertname", "alertstate", "severity")


def fired_query(period: str) -> str:
    """The PromQL of the alerts that fired during `period`."""
    return f'max_over_time(ALERTS{{alertstate="firing"}}[{PERIOD_RANGE[period]}])'


def alerts_fired(prometheus_url: str, period: str) -> tuple[FiredAlert, ...]:
    """Each alert series that fired during `period`, sorted by name and labels."""
    series = prometheus_result(prometheus_url, "/api/v1/query", {"query": fired_query(period)})
    try:
        alerts = [
            FiredAlert(
                s["metric"]["alertname"],
                s["metric"].get("severity", ""),
                {k: v for k, v in s["metric"].items() if k not in OMITTED_LABELS},
            )
            for s in series
        ]
    except (KeyError, TypeError, AttributeError) as error:
        raise MonitorUnreachable(f"Prometheus at {prometheus_url}: {error}") from None
    return tuple(sorted(alerts, key=lambda a: (a.alertname, sorted(a.labels.items()))))
