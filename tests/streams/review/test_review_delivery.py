"""`crmkpi review --send` against a monitor serving a fixed /kpis, the local Slack stand-in
and an aiosmtpd server: one delivery each, the snapshot's numbers, retries while down."""

from __future__ import annotations

import base64
import io
import os
import re
import urllib.parse
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import orjson
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from kpis.catalogue import CATALOGUE
from streams.cli.review import ReviewRequest, fetch_review, run_review
from streams.config import ReviewSchedules, Settings
from streams.review import sent
from streams.review.delivery import Retries, deliver, with_retries
from tests.alerting import MailSink, SlackSink, review_thresholds
from tests.conftest import free_port
from tests.http_servers import json_monitor
from tests.kpis.test_review import SNAPSHOT
from tests.kpis.test_review_customer_ids import DOCUMENT
from tests.processes import run_crmkpi

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


def daily_matrix(request: BaseHTTPRequestHandler) -> tuple[int, object]:
    """Prometheus: no alert fired; a value a day, rising, for every KPI's series."""
    address = urllib.parse.urlsplit(request.path)
    if address.path == "/api/v1/query":
        return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
    params = urllib.parse.parse_qs(address.query)
    start, end, step = (int(params[name][0]) for name in ("start", "end", "step"))
    values = [[t, str(t - start)] for t in range(start, end + 1, step)]
    series = [{"metric": {"window": "24h"}, "values": values}]
    return 200, {"status": "success", "data": {"resultType": "matrix", "result": series}}


def segment_ids(text: str) -> dict[str, list[str]]:
    """The ids of the plain text's at-risk table: `| smb | 25 | a, b and 5 more |`."""
    rows = re.findall(r"^\| ([^|]+?) \| \d+ \| ([^|]+) \|$", text, re.MULTILINE)
    return {segment: cells.split(" and ")[0].split(", ") for segment, cells in rows}


def test_email_carries_sparklines_and_only_internal_channels_get_ids(tmp_path: Path) -> None:
    review = ReviewSchedules(customer_ids=("email",))
    with (
        json_monitor(lambda _: (200, DOCUMENT)) as monitor,
        json_monitor(daily_matrix) as prometheus,
        SlackSink() as slack,
        MailSink() as mail,
    ):
        thresholds = review_thresholds(tmp_path, slack.url, mail.port)
        settings = Settings(thresholds_file=thresholds, prometheus_url=prometheus, review=review)
        request = ReviewRequest("week", "markdown", monitor, None, send=True)
        assert run_review(settings, request, Console(file=None), Console(stderr=True), QUICK) == 0
        post, message = slack.posts[0].body, mail.messages[0].body
    # The structure: plain text, and the HTML page related to its inline images.
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert (plain.get_content_type(), related.get_content_type()) == (
        "text/plain",
        "multipart/related",
    )
    page, *images = related.get_payload()
    assert page.get_content_type() == "text/html" and len(images) == len(CATALOGUE)
    html = page.get_payload(decode=True).decode()
    for image in images:
        assert image.get_content_type() == "image/png"
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
        assert Image.open(io.BytesIO(image.get_payload(decode=True))).format == "PNG"
    # The ids: in the email, as /kpis lists them (the first 20 per segment), not in Slack.
    listed: dict[str, list[str]] = {}
    for customer in DOCUMENT["churn_risk"]["customers"]:
        listed.setdefault(customer["segment"], []).append(customer["customer_id"])
    expected = {segment: sorted(ids)[:20] for segment, ids in listed.items()}
    text = plain.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert segment_ids(text) == expected
    assert "| smb | 25 |" in text and "and 5 more |" in text
    assert all(cid not in str(post) for ids in listed.values() for cid in ids)
    assert "smb 25" in str(post)


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


def test_the_preview_shows_ids_only_when_asked_and_embeds_the_sparklines(
    tmp_path: Path,
) -> None:
    with (
        json_monitor(lambda _: (200, DOCUMENT)) as monitor,
        json_monitor(daily_matrix) as prometheus,
    ):
        env = {**os.environ, "CRMKPI_PROMETHEUS_URL": prometheus}
        pages = {}
        for name, flags in (("internal", ["--customer-ids"]), ("plain", [])):
            out = tmp_path / f"{name}.html"
            args = ["review", "--period", "week", "--format", "html", "--url", monitor]
            done = run_crmkpi([*args, "--out", str(out), *flags], env)
            assert done.returncode == 0, done.stderr
            pages[name] = out.read_text()
    assert "cust-000, cust-001" in pages["internal"] and "and 5 more" in pages["internal"]
    assert "cust-" not in pages["plain"]
    for page in pages.values():
        sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
        assert len(sources) == len(CATALOGUE)
        assert Image.open(io.BytesIO(base64.b64decode(sources[0]))).format == "PNG"
