"""A real Prometheus (Debian's package) scraping crmkpi on loopback, for integration tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, stop
from tests.waiting import wait_until


def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run scripts/ensure-services.sh")
    return binary


class Prometheus:
    """Query access to a running Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant-query result vector."""
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(address, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, promql: str) -> list[dict[str, Any]]:
        """The result of `promql` once it is not empty."""
        return wait_until(lambda: self.query(promql), f"data for {promql!r}", ignoring=(OSError,))


@contextmanager
def prometheus(
    targets: list[str],
    tmp: Path,
    rule_files: Sequence[Path] = (),
    alertmanager: str | None = None,
    external_url: str | None = None,
) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` (host:port) every second; always stopped.

    With `alertmanager` (host:port), alerts of the rule files are sent there; `external_url`
    is the base of the alerts' source links.
    """
    port = free_port()
    config = tmp / "prometheus.yml"
    rules = "".join(f"\n  - {path}" for path in rule_files)
    alerting = (
        "alerting:\n  alertmanagers:\n    - static_configs:\n"
        + f"        - targets: [{json.dumps(alertmanager)}]\n"
        if alertmanager
        else ""
    )
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        + alerting
        + (f"rule_files:{rules}\n" if rule_files else "")
        + "scrape_configs:\n  - job_name: crmkpi\n    static_configs:\n"
        + f"      - targets: {json.dumps(targets)}\n"
    )
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *(
                [f"--web.external-url={external_url}", "--web.route-prefix=/"]
                if external_url
                else []
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "prometheus.log").open("w"),
    )
    try:
        instance = Prometheus(f"http://127.0.0.1:{port}")
        instance.wait_for("up")
        yield instance
    finally:
        stop(process)
