"""`crmkpi review --send` against a monitor serving a fixed /kpis, the local Slack stand-in
and an aiosmtpd server: one delivery each, the snapshot's numbers, retries while down."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from streams.cli.review import ReviewRequest, fetch_review, run_review
from streams.config import Settings
from streams.review import sent
from streams.review.delivery import Retries, deliver, with_retries
from tests.alerting import MailSink, SlackSink, review_thresholds
from tests.conftest import free_port
from tests.http_servers import json_monitor
from tests.kpis.test_review import SNAPSHOT

QUICK = Retries(attempts=3, first_delay=0.01, max_delay=0.01)


@pytest.fixture
def monitor() -> Iterator[str]:
    with json_monitor(lambda _: (200, SNAPSHOT)) as url:
        yield url


def settings_for(tmp_path: Path, slack_url: str, mail_port: int) -> Settings:
    return Settings(thresholds_file=review_thresholds(tmp_path, slack_url, mail_port))


def count(channel: str, outcome: str) -> float:
    for family in text_string_to_metric_families(sent.exposition().decode()):
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == {
                "channel": channel,
                "outcome": outcome,
            }:
                return sample.value
    raise AssertionError(f"no series for {channel} {outcome}")


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found[part.get_content_type()] = payload.decode()
    return found


def test_send_delivers_once_to_slack_and_email_with_the_snapshot_numbers(
    tmp_path: Path, monitor: str
) -> None:
    before = count("slack", "sent"), count("email", "sent")
    with SlackSink() as slack, MailSink() as mail:
        settings = settings_for(tmp_path, slack.url, mail.port)
        request = ReviewRequest("week", "markdown", monitor, None, send=True)
        status = run_review(settings, request, Console(file=None), Console(stderr=True), QUICK)
        assert status == 0
        assert len(slack.posts) == 1 and len(mail.messages) == 1
        post, message = slack.posts[0].body, mail.messages[0].body
    assert (count("slack", "sent"), count("email", "sent")) == (before[0] + 1, before[1] + 1)
    table = post["blocks"][1]["text"]["text"]
    csat = next(row for row in table.splitlines() if row.startswith("Customer satisfaction"))
    assert csat.split()[-3:] == ["80%", "+5.0", "pts"]  # 0.8 in 7d, 0.75 in prev_7d
    assert "<https://crmkpi.test/|Scorecard>" in post["blocks"][-1]["elements"][0]["text"]
    assert message["Subject"].startswith("Weekly KPI review (7d vs prev_7d")
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert (
        "| Customer satisfaction (CSAT) | 7d | 80% | 75% | +5.0 pts | +6.7% |"
        in bodies["text/plain"]
    )
    assert "<td>Customer satisfaction (CSAT)</td><td>7d</td><td>80%</td>" in bodies["text/html"]
    assert "| smb | 3 |" in bodies["text/plain"]


def test_a_receiver_that_is_down_gets_the_review_on_a_retry(tmp_path: Path, monitor: str) -> None:
    slack_port = free_port()
    mail = MailSink()  # not started yet: nothing listens on its port
    slack_sink: list[SlackSink] = []

    def come_up(_: float) -> None:
        """The first back-off: both receivers come up."""
        if not slack_sink:
            slack_sink.append(SlackSink(slack_port).__enter__())
            mail.__enter__()

    slack_url = f"http://127.0.0.1:{slack_port}/services/T000/B000/XXXX"
    settings = settings_for(tmp_path, slack_url, mail.port)
    failed = count("slack", "failed")
    review = fetch_review(settings, monitor, "month", Console(stderr=True))
    try:
        assert deliver(review, settings.thresholds(), retries=QUICK, sleep=come_up) == {
            "slack": True,
            "email": True,
        }
        assert len(slack_sink[0].posts) == 1 and len(mail.messages) == 1
    finally:
        for sink in slack_sink:
            sink.__exit__()
        mail.__exit__()
    assert count("slack", "failed") == failed


def test_a_receiver_down_through_every_attempt_is_counted_failed(
    tmp_path: Path, monitor: str
) -> None:
    settings = settings_for(tmp_path, f"http://127.0.0.1:{free_port()}/hook", free_port())
    failed = count("slack", "failed"), count("email", "failed")
    request = ReviewRequest("week", "json", monitor, tmp_path / "review.json", send=True)
    status = run_review(settings, request, Console(file=None), Console(stderr=True), QUICK)
    assert status == 1
    assert (count("slack", "failed"), count("email", "failed")) == (failed[0] + 1, failed[1] + 1)
    written = orjson.loads((tmp_path / "review.json").read_bytes())
    assert written["period"] == "week" and written["kpis"][0]["kpi"] == "open_pipeline_value"


def test_back_off_doubles_up_to_its_limit() -> None:
    waits: list[float] = []

    def refused() -> None:
        raise ConnectionRefusedError("down")

    retries = Retries(attempts=4, first_delay=1.0, max_delay=3.0)
    assert with_retries("slack", refused, retries, waits.append) is False
    assert waits == [1.0, 2.0, 3.0]
