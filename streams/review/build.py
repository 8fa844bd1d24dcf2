"""The review of a `/kpis` document, with what Prometheus adds when it is configured: the
alerts that fired and the KPIs' daily trends. Without an answer, those parts are left out
with a warning; the review is never held back."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kpis.review.model import Review, build_review
from streams.errors import MonitorUnreachable
from streams.review.alerts_fired import alerts_fired
from streams.review.trends import daily_trends

log = logging.getLogger(__name__)


def review_with_prometheus(
    document: Mapping[str, Any], period: str, prometheus_url: str | None
) -> Review:
    """The review of `period`, with alerts and trends when `prometheus_url` is set."""
    review = build_review(document, period)
    if not prometheus_url:
        return review
    try:
        review = replace(review, alerts=alerts_fired(prometheus_url, period))
    except MonitorUnreachable as error:
        log.warning("review without its alerts: %s", error)
    try:
        kpis = tuple(line.kpi for line in review.kpis)
        trends = daily_trends(prometheus_url, period, kpis, time.time())
        review = replace(review, trends=trends)
    except MonitorUnreachable as error:
        log.warning("review without its sparklines: %s", error)
    return review
