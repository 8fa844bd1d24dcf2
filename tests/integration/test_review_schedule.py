"""The scheduled review in the reporter worker: against the local Slack stand-in and an
aiosmtpd server, the weekly review arrives once with the numbers of /kpis, a restart in the
same period sends nothing more, and receivers that were down get it once they are up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kpis.review.model import build_review, with_customer_ids
from kpis.review.render import to_markdown
from kpis.review.schedule import WEEKDAYS
from kpis.units import USD
from streams.simulate import simulate_history
from tests.alerting import MailSink, SlackSink, port_for_later, review_thresholds
from tests.processes import crmkpi_env, get_json, run_crmkpi, scrape, wait_idle, worker
from tests.streams.review.test_review_delivery import segment_ids
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
SLACK_PATH = "/services/T000/B000/XXXX"


def schedule_env(tmp: Path, slack_url: str, mail_port: int) -> dict[str, str]:
    """A weekly review due this very minute (UTC), quick retries, INFO logs."""
    now = datetime.now(UTC)
    review = {
        "weekly": f"{WEEKDAYS[now.weekday()]} {now:%H:%M}",
        "attempts": 2,
        "first_delay": 0.2,
        "retry_later_seconds": 1,
        "customer_ids": ["email"],  # the internal channel
    }
    return {
        "CRMKPI_REVIEW": json.dumps(review),
        "CRMKPI_THRESHOLDS_FILE": str(review_thresholds(tmp, slack_url, mail_port)),
        "CRMKPI_LOG_LEVEL": "INFO",
    }


def produce_history(broker: str, tmp: Path) -> int:
    """Ten days of events up to the start of this hour, sent before any worker starts."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=10)
    lines = list(simulate_history(21, 10, start=start, scale=0.1))
    history = tmp / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    assert run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0)).returncode == 0
    return len(lines)


def plain_text(sink: MailSink) -> str:
    return sink.texts()[0][2].replace("\r\n", "\n")


def test_the_weekly_review_arrives_once_with_the_numbers_of_kpis(
    broker: str, tmp_path: Path
) -> None:
    events = produce_history(broker, tmp_path)
    with SlackSink() as slack, MailSink() as mail:
        extra = schedule_env(tmp_path, slack.url, mail.port)
        with worker(broker, tmp_path, "first", **extra) as (url, _):
            snapshot = wait_idle(url, accepted_at_least=events)
            wait_until(lambda: (len(slack.posts), len(mail.messages)), "the review", (1, 1).__eq__)
            # Its numbers are those of /kpis (no event came in since the worker went idle).
            review = with_customer_ids(build_review(snapshot, "week"), True)
            assert plain_text(mail) == to_markdown(review, USD)
            assert get_json(f"{url}/kpis")["kpis"] == snapshot["kpis"]
            metrics = scrape(url)
            sent = ("crmkpi_reviews_sent_total", (("channel", "slack"), ("outcome", "sent")))
            assert metrics[sent] == 1.0
        # A restart in the same period (the scheduled minute still, or later): nothing more.
        log = tmp_path / "second.log"
        with worker(broker, tmp_path, "second", **extra):
            wait_until(
                lambda: log.read_text(),
                "the second reporter's first check",
                lambda text: "reviews due none" in text,
            )
        assert (len(slack.posts), len(mail.messages)) == (1, 1)
    csat = next(s for s in snapshot["kpis"] if s["kpi"] == "csat" and s["window"] == "7d")
    table = slack.posts[0].body["blocks"][1]["text"]["text"]
    row = next(line for line in table.splitlines() if line.startswith("Customer satisfaction"))
    assert row.split()[3] == (f"{csat['value'] * 100:.4g}%" if csat["value"] is not None else "n/a")
    # The at-risk customers' ids: in the email (the internal channel) as /kpis lists them,
    # the first 20 of each segment; not one in Slack.
    listed: dict[str, list[str]] = {}
    for customer in snapshot["churn_risk"]["customers"]:
        listed.setdefault(customer["segment"], []).append(customer["customer_id"])
    assert listed, "the simulated history has customers at risk"
    assert segment_ids(plain_text(mail)) == {s: sorted(ids)[:20] for s, ids in listed.items()}
    assert not any(cid in json.dumps(slack.posts[0].body) for ids in listed.values() for cid in ids)


def test_receivers_that_are_down_get_the_review_once_they_are_up(
    broker: str, tmp_path: Path
) -> None:
    events = produce_history(broker, tmp_path)
    slack_port = port_for_later()
    mail = MailSink(port_for_later())  # nothing listening yet
    extra = schedule_env(tmp_path, f"http://127.0.0.1:{slack_port}{SLACK_PATH}", mail.port)
    with worker(broker, tmp_path, **extra) as (url, _):
        wait_idle(url, accepted_at_least=events)
        failed = ("crmkpi_reviews_sent_total", (("channel", "slack"), ("outcome", "failed")))
        wait_until(lambda: scrape(url).get(failed, 0.0), "a failed delivery", lambda n: n >= 1)
        with SlackSink(slack_port) as slack, mail:
            wait_until(lambda: (len(slack.posts), len(mail.messages)), "the review", (1, 1).__eq__)
            sent = ("crmkpi_reviews_sent_total", (("channel", "email"), ("outcome", "sent")))
            wait_until(lambda: scrape(url).get(sent, 0.0), "email counted sent", lambda n: n == 1)
            assert (len(slack.posts), len(mail.messages)) == (1, 1)
