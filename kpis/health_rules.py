"""Alerting rules on crmkpi's own health: a worker down, lag, a stalled stream, dead letters,
notifications Alertmanager failed to deliver.

Limits come from the `health` section of the thresholds file. Every series is
summed across workers: each worker exports the partitions it owns, and those
move between workers at a rebalance, so only the sums are stable.
"""

from __future__ import annotations

from typing import Any

from kpis import metric_names as m
from kpis.severity import Severity
from kpis.thresholds import AlertLinks, Health, ThresholdsConfig

HEALTH_GROUP = "crmkpi.health"
LAG = f"sum({m.CONSUMER_LAG})"
REJECTED = f"sum({m.counter_total(m.EVENTS_REJECTED)})"
REJECTED_10M_AGO = f"sum({m.counter_total(m.EVENTS_REJECTED)} offset 10m)"
FAILED_NOTIFICATIONS = f"sum by (integration) (increase({m.NOTIFICATIONS_FAILED}[10m])) > 0"
FAILED_DESCRIPTION = (
    'Alertmanager failed to deliver {{ $value | printf "%.0f" }} notifications to '
    "{{ $labels.integration }} in the last 10 minutes."
)


def _rule(
    links: AlertLinks,
    name: str,
    expr: str,
    for_: str,
    severity: Severity,
    summary: str,
    description: str,
    runbook: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "kpi": m.HEALTH_KPI},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook": runbook,
            "kpi_words": "crmkpi itself",
            "dashboard": links.dashboard,
            "scorecard": links.scorecard,
        },
    }


def health_rules(health: Health, links: AlertLinks) -> list[dict[str, Any]]:
    """The health alerts, in the order of their promtool tests."""
    return [
        _rule(
            links,
            "CrmkpiWorkerDown",
            'up{job="crmkpi"} == 0',
            f"{health.down_for_minutes}m",
            "critical",
            "A crmkpi process does not answer scrapes",
            "{{ $labels.instance }} has not answered Prometheus for "
            + f"{health.down_for_minutes} minutes.",
            "Check the process and its log; its partitions move to the other workers.",
        ),
        _rule(
            links,
            "CrmkpiConsumerLagHigh",
            f"{LAG} > {health.lag_records}",
            f"{health.lag_for_minutes}m",
            "warning",
            "crmkpi is falling behind the CRM event stream",
            "{{ $value }} records are waiting to be applied (limit " + f"{health.lag_records}).",
            "Start another `crmkpi worker` in the same group, or look for a slow store.",
        ),
        _rule(
            links,
            "CrmkpiStalled",
            f"time() - max({m.LAST_FLUSH}) > {health.stalled_minutes * 60} and {LAG} > 0",
            "1m",
            "critical",
            "crmkpi has applied nothing while events are waiting",
            "No batch was applied for {{ $value | humanizeDuration }} while records wait.",
            "Check the workers' logs for broker or store errors; restart a stuck worker.",
        ),
        _rule(
            links,
            "CrmkpiDeadLettersGrowing",
            f"{REJECTED} - {REJECTED_10M_AGO} > {health.dead_letters_per_10m}",
            "5m",
            "warning",
            "Producers are sending many bad events",
            "{{ $value }} events went to the dead-letter topic in the last 10 minutes (limit "
            + f"{health.dead_letters_per_10m}).",
            "Read crm.dlq: each record's `reason` and `detail` headers name the problem.",
        ),
        _rule(
            links,
            "CrmkpiNotificationsFailing",
            FAILED_NOTIFICATIONS,
            "0m",
            "critical",
            "Alert notifications are not delivered",
            FAILED_DESCRIPTION,
            "Read Alertmanager's log for the receiver's error; check the webhook URL and SMTP "
            "password files (`crmkpi rules --check-secrets`).",
        ),
    ]


def _test(name: str, series: list[dict[str, str]], checks: list[tuple[str, list[Any]]]) -> Any:
    alertname = name.split(":")[0]
    return {
        "name": name,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": at, "alertname": alertname, "exp_alerts": alerts} for at, alerts in checks
        ],
    }


Rules = dict[str, dict[str, Any]]


def _fired(rules: Rules, alert: str, value: str, **labels: str) -> list[dict[str, Any]]:
    """The alert promtool expects, its description rendered with `value` and `labels`."""
    rule = rules[alert]
    annotations = dict(rule["annotations"])
    annotations["description"] = (
        annotations["description"]
        .replace("{{ $value }}", value)
        .replace("{{ $labels.instance }}", labels.get("instance", ""))
        .replace("{{ $value | humanizeDuration }}", value)
    )
    return [{"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}]


def _worker_down_test(health: Health, rules: Rules) -> Any:
    minutes = health.down_for_minutes
    instance = {"job": "crmkpi", "instance": "worker-1:8000"}
    return _test(
        "CrmkpiWorkerDown: silent while up, fires when down, resolves",
        [
            {
                "series": 'up{job="crmkpi", instance="worker-1:8000"}',
                "values": f"1x5 0x{minutes + 2} 1x5",
            }
        ],
        [
            ("5m", []),
            (f"{6 + minutes}m", _fired(rules, "CrmkpiWorkerDown", "", **instance)),
            (f"{minutes + 10}m", []),
        ],
    )


def _lag_test(health: Health, rules: Rules) -> Any:
    lag, minutes = health.lag_records, health.lag_for_minutes
    return _test(
        "CrmkpiConsumerLagHigh: summed across workers, fires after its for, resolves",
        [
            {
                "series": m.CONSUMER_LAG + '{instance="a", partition="crm.leads:0"}',
                "values": f"0x5 {lag}x{minutes + 2} 0x5",
            },
            {
                "series": m.CONSUMER_LAG + '{instance="b", partition="crm.leads:1"}',
                "values": f"0x5 1x{minutes + 2} 0x5",
            },
        ],
        [
            ("5m", []),
            (f"{6 + minutes}m", _fired(rules, "CrmkpiConsumerLagHigh", str(lag + 1))),
            (f"{minutes + 10}m", []),
        ],
    )


def _stalled_test(health: Health, rules: Rules) -> Any:
    stall = health.stalled_minutes
    return _test(
        "CrmkpiStalled: no flush while records wait fires; flushing again resolves",
        [
            {
                "series": m.LAST_FLUSH,
                "values": f"0+60x5 300x{stall + 4} {(stall + 10) * 60}+60x5",
            },
            {
                "series": m.CONSUMER_LAG + '{partition="crm.leads:0"}',
                "values": f"5x{stall + 20}",
            },
        ],
        [
            ("5m", []),
            (f"{stall + 7}m", _fired(rules, "CrmkpiStalled", f"{stall + 2}m 0s")),
            (f"{stall + 12}m", []),
        ],
    )


def _dead_letters_test(health: Health, rules: Rules) -> Any:
    limit = health.dead_letters_per_10m
    return _test(
        "CrmkpiDeadLettersGrowing: a burst over the limit fires, a quiet 10 minutes resolves",
        [
            {
                "series": m.counter_total(m.EVENTS_REJECTED) + '{reason="schema"}',
                "values": f"0x15 {limit + 1}x20",
            }
        ],
        [
            ("14m", []),
            ("21m", _fired(rules, "CrmkpiDeadLettersGrowing", str(limit + 1))),
            ("27m", []),
        ],
    )


def _notifications_failing_test(health: Health, rules: Rules) -> Any:
    rule = rules["CrmkpiNotificationsFailing"]
    description = FAILED_DESCRIPTION.replace('{{ $value | printf "%.0f" }}', "3").replace(
        "{{ $labels.integration }}", "slack"
    )
    fired = {
        "exp_labels": {**rule["labels"], "integration": "slack"},
        "exp_annotations": {**rule["annotations"], "description": description},
    }
    return _test(
        "CrmkpiNotificationsFailing: a failed Slack delivery fires, 10 quiet minutes resolve",
        [
            {"series": m.NOTIFICATIONS_FAILED + '{integration="slack"}', "values": "0x15 3x20"},
            {"series": m.NOTIFICATIONS_FAILED + '{integration="email"}', "values": "0x35"},
        ],
        [("14m", []), ("17m", [fired]), ("28m", [])],
    )


def health_tests(config: ThresholdsConfig, rule_file: str) -> dict[str, Any]:
    """promtool unit tests, evaluated every minute: each health alert stays silent, fires,
    and resolves."""
    health = config.health
    rules = {rule["alert"]: rule for rule in health_rules(health, config.links)}
    tests = [
        make(health, rules)
        for make in (
            _worker_down_test,
            _lag_test,
            _stalled_test,
            _dead_letters_test,
            _notifications_failing_test,
        )
    ]
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
