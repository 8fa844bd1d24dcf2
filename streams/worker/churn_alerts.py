"""Per-customer churn-risk alerts, posted straight to Alertmanager's v2 API.

A customer who becomes at risk is posted as a firing alert; one who recovers
is posted again with `endsAt` now, which resolves it. Firing alerts are
re-posted every `REFRESH_SECONDS` with an `endsAt` a few refreshes ahead, the
way Prometheus does it: if crmkpi stops, Alertmanager resolves them on its own
instead of keeping stale alerts forever. Alertmanager de-duplicates by labels,
so each customer at risk is one alert however many events show it.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import aiohttp

from kpis.churn import SIGNAL_WORDS, ChurnRisk, risk_changes
from kpis.thresholds import AlertLinks, ChurnAlert, ThresholdsError, read_thresholds
from streams.config import Settings
from streams.errors import ConfigError

log = logging.getLogger(__name__)
REFRESH_SECONDS = 60.0
EXPIRES_AFTER_SECONDS = 5 * REFRESH_SECONDS
TIMEOUT = aiohttp.ClientTimeout(total=10)


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def describe(risk: ChurnRisk, window: str = "30 days") -> str:
    """The notification text: who, which segment, and the signals in words."""
    signals = "; ".join(SIGNAL_WORDS.get(signal, signal) for signal in risk.signals)
    return (
        f"Customer {risk.customer_id} ({risk.segment}) is at risk of churning: "
        f"{len(risk.signals)} churn signals in the last {window}: {signals}."
    )


def alert_document(
    risk: ChurnRisk, config: ChurnAlert, links: AlertLinks, ends_at: float
) -> dict[str, object]:
    """One alert of Alertmanager's v2 `postableAlert` schema."""
    return {
        "labels": {
            "alertname": config.name,
            "customer_id": risk.customer_id,
            "segment": risk.segment,
            "severity": config.severity,
        },
        "annotations": {
            "summary": config.summary,
            "description": describe(risk),
            "signals": ",".join(risk.signals),
            "runbook": config.runbook,
            "dashboard": links.dashboard,
            "scorecard": links.scorecard,
            # The parts Slack shows as fields, as the KPI alerts have them.
            "kpi_words": "Churn risk",
            "value": f"{len(risk.signals)} churn signals",
            "dimension": f"segment {risk.segment}, customer {risk.customer_id}",
        },
        "endsAt": _timestamp(ends_at),
        "generatorURL": links.dashboard,
    }


class ChurnAlerts:
    """Keeps Alertmanager's churn-risk alerts in step with the at-risk customers."""

    def __init__(self, url: str, config: ChurnAlert, links: AlertLinks) -> None:
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.config = config
        self.links = links
        self.firing: dict[str, ChurnRisk] = {}
        self.refreshed_at = 0.0
        self.session: aiohttp.ClientSession | None = None

    async def sync(self, risks: list[ChurnRisk]) -> int:
        """Post what changed (and, when due, every firing alert); returns alerts posted.

        On failure nothing is remembered as posted, so the next call retries.
        """
        now = time.time()
        changes = risk_changes(self.firing, risks)
        due = bool(risks) and now - self.refreshed_at >= REFRESH_SECONDS
        if not changes and not due:
            return 0
        firing = [(risk, now + EXPIRES_AFTER_SECONDS) for risk in risks]
        resolved = [(risk, now) for risk, at_risk in changes if not at_risk]
        alerts = [
            alert_document(risk, self.config, self.links, ends_at)
            for risk, ends_at in firing + resolved
        ]
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=TIMEOUT)
        async with self.session.post(self.endpoint, json=alerts) as response:
            if response.status != 200:
                detail = (await response.text()).strip()
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message=detail
                )
        self.firing = {risk.customer_id: risk for risk in risks}
        self.refreshed_at = now
        return len(alerts)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def churn_alerts_for(settings: Settings) -> ChurnAlerts | None:
    """The alerts of the configured Alertmanager (none when unset), as the thresholds say."""
    if settings.alertmanager_url is None:
        return None
    try:
        thresholds = read_thresholds(
            settings.thresholds_file, settings.public_url, settings.grafana_url
        )
    except ThresholdsError as error:
        raise ConfigError(str(error)) from None
    return ChurnAlerts(settings.alertmanager_url, thresholds.churn_alert, thresholds.links)
