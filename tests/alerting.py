"""Real Alertmanager, and local stand-ins for Slack's webhook endpoint and an SMTP server."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from kpis.thresholds import DEFAULT_THRESHOLDS_FILE
from streams.kafka.broker import port_in_use
from tests.conftest import free_port, stop
from tests.waiting import wait_until


@dataclass(frozen=True)
class Received:
    """One notification and when (time.time()) it arrived."""

    at: float
    body: Any


class SlackSink:
    """An HTTP server that records every JSON POST, as Slack's incoming webhook would get it."""

    def __init__(self, port: int | None = None) -> None:
        self.posts: list[Received] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                sink.posts.append(Received(time.time(), json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlackSink:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def port_for_later() -> int:
    """A free port below the ephemeral range, for a receiver started later (one that is
    down first): an ephemeral port can be taken meanwhile as the local port of an outgoing
    connection, and the receiver then fails with "address already in use"."""
    ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while port_in_use("127.0.0.1", port := random.randrange(10_000, ephemeral_from)):
        pass
    return port


class MailSink:
    """An aiosmtpd server that keeps every message it is handed."""

    def __init__(self, port: int | None = None) -> None:
        self.messages: list[Received] = []
        self.port = port or free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(Received(time.time(), message_from_bytes(content)))
        return "250 OK"

    def texts(self) -> list[tuple[float, str, str]]:
        """(arrival, subject, plain text) of every message."""
        return [(m.at, str(m.body["Subject"]), _plain_text(m.body)) for m in self.messages]

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            return payload.decode() if isinstance(payload, bytes) else str(payload)
    return ""


@contextmanager
def alertmanager(config: Path, tmp: Path, external_url: str | None = None) -> Iterator[str]:
    """Debian's Alertmanager with `config`, clustering off; yields host:port.

    `external_url` is where people would open it: the base of its links in notifications."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("alertmanager is not installed: run CRMKPI_WITH_PROMETHEUS=1 ensure-services")
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp / 'alertmanager'}",
            f"--web.listen-address={address}",
            "--cluster.listen-address=",
            *(
                [f"--web.external-url={external_url}", "--web.route-prefix=/"]
                if external_url
                else []
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "alertmanager.log").open("w"),
    )
    try:
        wait_until(lambda: _ready(address), "Alertmanager ready")
        yield address
    finally:
        stop(process)


def _ready(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def review_thresholds(tmp: Path, slack_url: str, mail_port: int) -> Path:
    """The default thresholds file with the local Slack stand-in and SMTP server as the
    receivers (the webhook URL in its secret file), and test links."""
    document = yaml.safe_load(DEFAULT_THRESHOLDS_FILE.read_text())
    url_file = tmp / "slack-webhook-url"
    url_file.write_text(slack_url + "\n")
    document["notify"] = {
        "slack": {"api_url_file": str(url_file), "channel": "#test"},
        "email": {
            "to": "revops@test.invalid",
            "from": "crmkpi@test.invalid",
            "smarthost": f"127.0.0.1:{mail_port}",
            "require_tls": False,
        },
    }
    document.update(public_url="https://crmkpi.test", grafana_url="https://grafana.test")
    thresholds = tmp / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump(document))
    return thresholds
