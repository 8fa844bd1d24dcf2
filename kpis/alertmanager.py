"""Alertmanager configuration: one receiver per severity, from the thresholds file's `notify`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kpis.severity import SEVERITIES, rank
from kpis.thresholds import Notify

# The annotations say what is true at the last evaluation: over the line, or back (with
# the value of that moment), so the text needs no resolved variant of its own.
_NOTIFICATION_TEXT = (
    "{{ range .Alerts }}{{ .Annotations.description }}\n"
    "{{ with .Annotations.runbook }}Runbook: {{ . }}\n{{ end }}"
    "{{ with .Annotations.runbook_url }}Runbook: {{ . }}\n{{ end }}"
    "{{ with .Annotations.dashboard }}Dashboard: {{ . }}\n{{ end }}"
    "{{ with .Annotations.scorecard }}Scorecard: {{ . }}\n{{ end }}"
    "{{ end }}"
)
_NOTIFICATION_TITLE = (
    "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}: "
    "{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}{{ len .Alerts }} alerts{{ end }}"
)


def _each(annotation: str, separator: str = ", ") -> str:
    """Go template: `annotation` of every alert of the group (one per team or customer)."""
    return (
        f"{{{{ range $i, $a := .Alerts }}}}{{{{ if $i }}}}{separator}{{{{ end }}}}"
        f"{{{{ $a.Annotations.{annotation} }}}}{{{{ end }}}}"
    )


# Slack fields of one group's message: what is measured, the value of that moment against
# the line, who it concerns, and where to look.
_SLACK_FIELDS = [
    {"title": "KPI", "value": "{{ .CommonAnnotations.kpi_words }}", "short": True},
    {"title": "Window", "value": "{{ .CommonLabels.window }}", "short": True},
    {"title": "Value", "value": _each("value"), "short": True},
    {"title": "Threshold", "value": "{{ .CommonAnnotations.threshold }}", "short": True},
    {"title": "Team or segment", "value": _each("dimension"), "short": True},
    {"title": "Dashboard", "value": "{{ .CommonAnnotations.dashboard }}", "short": True},
    {"title": "Scorecard", "value": "{{ .CommonAnnotations.scorecard }}", "short": True},
    {
        "title": "Runbook",
        "value": "{{ .CommonAnnotations.runbook_url }}{{ .CommonAnnotations.runbook }}",
        "short": False,
    },
]


def _receiver(name: str, kinds: Sequence[str], notify: Notify) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    if "slack" in kinds:
        receiver["slack_configs"] = [
            {
                "api_url_file": notify.slack.api_url_file,
                "channel": notify.slack.channel,
                "send_resolved": True,
                "title": _NOTIFICATION_TITLE,
                "title_link": "{{ .CommonAnnotations.dashboard }}",
                "text": _each("description", "\n"),
                "fields": _SLACK_FIELDS,
            }
        ]
    if "email" in kinds:
        email: dict[str, Any] = {"to": notify.email.to, "send_resolved": True}
        email["headers"] = {"Subject": _NOTIFICATION_TITLE}
        email["text"] = _NOTIFICATION_TEXT
        receiver["email_configs"] = [email]
    return receiver


def alertmanager_config(notify: Notify) -> dict[str, Any]:
    """Alertmanager: one receiver per severity, grouped per alert and KPI, resolved notices on."""
    routing = notify.routing
    smtp: dict[str, Any] = {
        "smtp_smarthost": notify.email.smarthost,
        "smtp_from": notify.email.sender,
        "smtp_require_tls": notify.email.require_tls,
    }
    if notify.email.auth_username:
        smtp["smtp_auth_username"] = notify.email.auth_username
    if notify.email.auth_password_file:
        smtp["smtp_auth_password_file"] = notify.email.auth_password_file
    most_severe_first = sorted(SEVERITIES, key=rank, reverse=True)
    severities = {severity: getattr(routing, severity) for severity in most_severe_first}
    return {
        "global": {"resolve_timeout": "5m", **smtp},
        "route": {
            "receiver": "crmkpi-warning",
            "group_by": ["alertname", "kpi"],
            "group_wait": routing.group_wait,
            "group_interval": routing.group_interval,
            "repeat_interval": routing.repeat_interval,
            "routes": [
                {"matchers": [f'severity="{severity}"'], "receiver": f"crmkpi-{severity}"}
                for severity in severities
            ],
        },
        "receivers": [
            _receiver(f"crmkpi-{severity}", kinds, notify) for severity, kinds in severities.items()
        ],
    }
