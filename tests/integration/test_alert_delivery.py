"""Alerts end to end: worker -> Prometheus -> Alertmanager -> Slack and email, all real processes.

The rules and the Alertmanager config are generated from the default thresholds
file, with only the receivers pointed at local sinks and the timers shortened.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpis.rules import ALERTING_FILE, ALERTMANAGER_FILE, RECORDING_FILE, generated_files
from kpis.thresholds import DEFAULT_THRESHOLDS_FILE, parse_thresholds
from streams.config import Settings
from streams.kafka.producer import CrmProducer
from streams.kafka.sync_producer import SyncCrmProducer
from tests.alerting import MailSink, Received, SlackSink, alertmanager
from tests.processes import wait_idle, worker
from tests.prometheus import prometheus
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

CSAT_ALERT = "CrmkpiCsat30dBelow"
PUBLIC_URL = "https://crmkpi.test.invalid"
GRAFANA_URL = "https://grafana.test.invalid"
CHURN_ALERT = "CrmkpiCustomerAtRisk"
NOW = datetime.now(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event(kind: str, at: datetime, **fields: object) -> dict[str, object]:
    return {"event_id": uuid.uuid4().hex, "type": kind, "occurred_at": stamp(at), **fields}


def csat(score: int, at: datetime) -> dict[str, object]:
    return event("survey.csat", at, response_id=uuid.uuid4().hex, score=score, team="emea")


def customer_at_risk(customer: str, since: datetime) -> list[dict[str, object]]:
    """A subscription, then three rounds of a detractor NPS and a reopened ticket."""
    events = [
        event(
            "customer.subscribed", since, customer_id=customer, segment="smb", channel="web", mrr=99
        )
    ]
    for hour in range(1, 4):
        at, ticket = since + timedelta(hours=hour), f"{customer}-T{hour}"
        events += [
            event(
                "survey.nps",
                at,
                response_id=f"{ticket}-N",
                score=2,
                segment="smb",
                customer_id=customer,
            ),
            event(
                "ticket.opened",
                at,
                ticket_id=ticket,
                customer_id=customer,
                team="emea",
                priority="low",
            ),
            event("ticket.resolved", at + timedelta(minutes=5), ticket_id=ticket),
            event("ticket.reopened", at + timedelta(minutes=9), ticket_id=ticket),
        ]
    return events


def write_deploy(tmp: Path, slack: SlackSink, mail: MailSink) -> tuple[Path, Path, list[Path]]:
    """The default thresholds with local receivers and short timers, and what they generate."""
    document = yaml.safe_load(DEFAULT_THRESHOLDS_FILE.read_text())
    slack_url_file = tmp / "slack-webhook-url"
    slack_url_file.write_text(slack.url)
    document["notify"] = {
        "slack": {"api_url_file": str(slack_url_file), "channel": "#test"},
        "email": {
            "to": "revops@test.invalid",
            "from": "crmkpi@test.invalid",
            "smarthost": f"127.0.0.1:{mail.port}",
            "require_tls": False,
        },
        "routing": {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
    }
    document.update(public_url=PUBLIC_URL, grafana_url=GRAFANA_URL, resolved_after="5s")
    for threshold in document["thresholds"]:
        if threshold["kpi"] == "csat":
            threshold["for"] = "0s"
    thresholds = tmp / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump(document))
    deploy = tmp / "deploy"
    for relative, text in generated_files(parse_thresholds(thresholds.read_text())).items():
        (deploy / relative).parent.mkdir(parents=True, exist_ok=True)
        (deploy / relative).write_text(text)
    rule_files = [deploy / RECORDING_FILE, deploy / ALERTING_FILE]
    return thresholds, deploy / ALERTMANAGER_FILE, rule_files


def slack_alerts(slack: SlackSink, alertname: str, status: str) -> list[Received]:
    """Slack posts about `alertname` with the given status (title `[FIRING...]`/`[RESOLVED]`)."""
    return [
        post
        for post in slack.posts
        for attachment in post.body.get("attachments", [])
        if alertname in attachment.get("title", "")
        and attachment["title"].startswith(f"[{status.upper()}")
    ]


# Prometheus may evaluate while only some of the 10 bad answers are applied: the value it
# reports is 10 good of 10 + k answers, for a k that takes CSAT below 80 % (k >= 3).
BREACHED_VALUES = {round(100 * 10 / (10 + k), 2) for k in range(3, 11)}


# Prometheus may likewise evaluate while only some of the 40 good answers are applied: the
# value the resolved notice quotes is 10 + k good of 20 + k, for a k back at 80 % (k >= 30),
# and the value before it came back one still below (k < 30, or one of the breach).
RECOVERED_VALUES = {round(100 * (10 + k) / (20 + k), 2) for k in range(30, 41)}
BEFORE_VALUES = {round(100 * (10 + k) / (20 + k), 2) for k in range(30)} | BREACHED_VALUES


def breached_csat(text: str) -> float:
    """The CSAT percentage of a notification, which must name the 80 % threshold."""
    found = re.search(r"is ([0-9.]+)%, below the threshold 80%", text)
    assert found, text
    return round(float(found.group(1)), 2)


def recovered_csat(text: str) -> tuple[float, float]:
    """The CSAT percentages a resolved notification quotes: now, and before it came back."""
    found = re.search(
        r"over 30d is ([0-9.]+)% now, at or above the threshold 80% \(it was ([0-9.]+)%\)", text
    )
    assert found, text
    return round(float(found.group(1)), 2), round(float(found.group(2)), 2)


def recovered_title(title: str) -> tuple[float, float]:
    """The CSAT percentages of a resolved title, which says it is back above 80 %."""
    found = re.search(
        r"Customer satisfaction \(CSAT\) over 30d is back above 80% "
        r"\(([0-9.]+)% now, ([0-9.]+)% before\)",
        title,
    )
    assert found, title
    return round(float(found.group(1)), 2), round(float(found.group(2)), 2)


def assert_recovered(values: tuple[float, float], text: str) -> None:
    now, before = values
    assert now in RECOVERED_VALUES and before in BEFORE_VALUES, text


def links(text: str) -> list[str]:
    """Every link of a notification text: href targets of HTML, and URLs outside tags."""
    outside_tags = re.sub(r"<[^>]*>", " ", text)
    return re.findall(r'href="([^"]+)"', text) + re.findall(r"https?://[^\s\"<>|)]+", outside_tags)


def strings(document: Any) -> Iterator[str]:
    """Every string of a JSON document."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from strings(value)


def email_parts(message: Any) -> Iterator[str]:
    """The decoded text of every text part of an email."""
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_maintype() == "text" and isinstance(payload, bytes):
            yield payload.decode()


def assert_public_links(texts: Iterable[str]) -> None:
    """Every link starts with the configured public or Grafana URL; none names localhost."""
    found = [link for text in texts for link in links(text)]
    assert found
    for link in found:
        assert link.startswith((PUBLIC_URL + "/", GRAFANA_URL + "/")), link
        assert "localhost" not in link and "127.0.0.1" not in link, link


def fields_of(post: Received) -> dict[str, str]:
    """The Slack fields of a post, by title."""
    (attachment,) = post.body["attachments"]
    return {field["title"]: field.get("value", "") for field in attachment.get("fields", [])}


def percent(text: str) -> float:
    return round(float(text.removesuffix("%")), 2)


def text_of(post: Received) -> str:
    return "\n".join(str(a.get("text", "")) for a in post.body["attachments"])


@pytest.fixture
def stack(broker: str, tmp_path: Path) -> Iterator[tuple[SlackSink, MailSink, Any]]:
    """Slack and SMTP sinks, Alertmanager, a worker posting churn alerts, and Prometheus."""
    with SlackSink() as slack, MailSink() as mail:
        thresholds, am_config, rule_files = write_deploy(tmp_path, slack, mail)
        with (
            alertmanager(am_config, tmp_path, f"{PUBLIC_URL}/alertmanager/") as am,
            worker(
                broker,
                tmp_path,
                CRMKPI_THRESHOLDS_FILE=str(thresholds),
                CRMKPI_ALERTMANAGER_URL=f"http://{am}",
            ) as (url, _),
            prometheus(
                [url.removeprefix("http://")], tmp_path, rule_files, am, f"{PUBLIC_URL}/prometheus/"
            ) as prom,
        ):
            yield slack, mail, (url, prom)


def test_breach_and_recovery_reach_slack_and_email(
    broker: str, stack: tuple[SlackSink, MailSink, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    slack, mail, (url, prom) = stack
    settings = Settings(kafka_bootstrap=broker)
    day = NOW - timedelta(hours=2)
    with SyncCrmProducer(CrmProducer(settings)) as producer:
        # A customer at risk 35 days ago: a detractor NPS and a reopened ticket, then more
        # signal events of the same kinds. One alert, however many events show it.
        for signal_event in customer_at_risk("C9", NOW - timedelta(days=35)):
            producer.send_event(signal_event)
        churn_fired = wait_until(lambda: slack_alerts(slack, CHURN_ALERT, "firing"), "churn alert")
        assert "C9" in text_of(churn_fired[0]) and "detractor NPS" in text_of(churn_fired[0])
        assert fields_of(churn_fired[0])["Team or segment"] == "segment smb, customer C9"
        assert fields_of(churn_fired[0])["Scorecard"] == f"{PUBLIC_URL}/"
        # Churn risk is a warning: routed to Slack and email, like every warning.
        wait_until(lambda: [m for m in mail.texts() if CHURN_ALERT in m[1]], "churn email")

        # CSAT now: 10 good answers (1.0), the watermark moves 35 days on and C9's signals
        # leave the 30-day window: the customer has recovered.
        for _ in range(10):
            producer.send_event(csat(5, day))
        wait_until(lambda: slack_alerts(slack, CHURN_ALERT, "resolved"), "churn alert resolved")
        assert len(slack_alerts(slack, CHURN_ALERT, "firing")) == 1
        wait_idle(url, accepted_at_least=23)
        prom.wait_for('window:crmkpi_csat:ratio{window="30d"} == 1')

        # 10 bad answers: CSAT 10/20 = 0.5, below 0.80.
        breached_at = datetime.now(UTC).timestamp()
        for _ in range(10):
            producer.send_event(csat(1, day + timedelta(minutes=1)))
        fired = wait_until(lambda: slack_alerts(slack, CSAT_ALERT, "firing"), "CSAT Slack post")
        latency = fired[0].at - breached_at
        firing_text = text_of(fired[0])
        assert "Customer satisfaction" in firing_text and "30d" in firing_text
        assert breached_csat(firing_text) in BREACHED_VALUES, firing_text
        fields = fields_of(fired[0])
        assert fields["KPI"] == "Customer satisfaction (CSAT)" and fields["Window"] == "30d"
        assert percent(fields["Value"]) in BREACHED_VALUES and fields["Threshold"] == "below 80%"
        assert fields["Team or segment"] == "all teams" and fields["Runbook"]
        assert fields["Dashboard"] == f"{GRAFANA_URL}/d/crmkpi/crm-kpis"
        assert fields["Scorecard"] == f"{PUBLIC_URL}/"
        mail_fired = wait_until(
            lambda: [m for m in mail.texts() if CSAT_ALERT in m[1] and "FIRING" in m[1]],
            "CSAT email",
        )
        assert breached_csat(mail_fired[0][2]) in BREACHED_VALUES, mail_fired[0][2]

        # 40 good answers: 50/60 = 0.83, back above the threshold.
        for _ in range(40):
            producer.send_event(csat(5, day + timedelta(minutes=2)))
        resolved = wait_until(lambda: slack_alerts(slack, CSAT_ALERT, "resolved"), "resolved post")
        resolved_title = resolved[0].body["attachments"][0]["title"]
        assert "RESOLVED" in resolved_title
        assert_recovered(recovered_title(resolved_title), resolved_title)
        assert_recovered(recovered_csat(text_of(resolved[0])), text_of(resolved[0]))
        assert percent(fields_of(resolved[0])["Value"]) in RECOVERED_VALUES, fields_of(resolved[0])
        assert "below the threshold" not in text_of(resolved[0])
        mail_resolved = wait_until(
            lambda: [m for m in mail.texts() if CSAT_ALERT in m[1] and "RESOLVED" in m[1]],
            "resolved email",
        )
        _, subject, plain = mail_resolved[0]
        assert_recovered(recovered_title(subject), subject)
        assert_recovered(recovered_csat(plain), plain)
    assert len(slack_alerts(slack, CSAT_ALERT, "firing")) == 1
    for post in slack.posts:
        assert_public_links(strings(post.body))
    for message in mail.messages:
        assert_public_links(email_parts(message.body))
    with capsys.disabled():
        print(f"\nbreaching event -> Slack POST: {latency:.2f}s (scrape/eval 1s, group_wait 1s)")
