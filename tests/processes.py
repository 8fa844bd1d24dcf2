"""Real crmkpi processes for integration tests: started on free ports, always stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import free_port


def crmkpi_env(bootstrap: str, http_port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CRMKPI_KAFKA_BOOTSTRAP=bootstrap,
        CRMKPI_HTTP_PORT=str(http_port),
        PYTHONUNBUFFERED="1",
        CRMKPI_SESSION_TIMEOUT="6",
        **extra,
    )
    return env


def run_crmkpi(
    args: Sequence[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one `crmkpi` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_until_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"crmkpi exited with {process.returncode}")
        try:
            get_json(f"{url}/readyz")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout}s")


def wait_idle(url: str, timeout: float = 120, accepted_at_least: int = 0) -> dict[str, Any]:
    """The snapshot once the lag is 0 (and enough events were applied)."""
    deadline = time.monotonic() + timeout
    snapshot: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            snapshot = get_json(f"{url}/kpis")
            if snapshot["lag"] == 0 and snapshot["events"]["accepted"] >= accepted_at_least:
                return snapshot
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not idle after {timeout}s: lag {snapshot.get('lag')}")


@contextmanager
def crmkpi_process(
    args: Sequence[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[str]]:
    """A long-running `crmkpi` command, terminated (then killed) on exit."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def worker(
    bootstrap: str, tmp: Path, name: str = "worker", **extra: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A `crmkpi worker` on a free HTTP port, ready; yields its URL and process."""
    port = free_port()
    env = crmkpi_env(bootstrap, port, **extra)
    with crmkpi_process(["worker"], env, tmp / f"{name}.log") as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process)
        yield url, process
