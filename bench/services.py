"""The real processes a benchmark runs against: the embedded broker, Redis and a `crmkpi worker`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import EmbeddedBroker, free_port
from tests.conftest import private_redis
from tests.waiting import wait_until


@contextmanager
def broker(logs: Path) -> Iterator[str]:
    """A fresh, empty embedded broker; yields its bootstrap address."""
    with EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=logs / "tansu.log") as started:
        yield started.bootstrap


@contextmanager
def redis_server(logs: Path) -> Iterator[str]:
    """A private, empty redis-server without persistence on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed: run scripts/ensure-services.sh, or give --redis URL"
        )
    with private_redis(binary, logs) as url:
        yield url


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return orjson.loads(response.read())


@contextmanager
def worker(
    bootstrap: str,
    logs: Path,
    name: str = "worker",
    group: str | None = None,
    wait_ready: bool = True,
    **extra: str,
) -> Iterator[tuple[str, int]]:
    """A `crmkpi worker` (in-process store) in `group` (its own unless given), ready unless
    not `wait_ready`; yields its URL and process id. `extra`: more `CRMKPI_*` settings."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        CRMKPI_KAFKA_BOOTSTRAP=bootstrap,
        CRMKPI_HTTP_PORT=str(port),
        CRMKPI_GROUP_ID=group or f"bench-{name}",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    env.pop("CRMKPI_REDIS_URL", None)
    url = f"http://127.0.0.1:{port}"
    with (logs / f"{name}.log").open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            if wait_ready:
                _wait_until_ready(url, process)
            yield url, process.pid
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"crmkpi worker exited with {process.returncode}")
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return bool(response.status == 200)

    wait_until(ready, f"the crmkpi worker at {url} ready", ignoring=(OSError,))


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    # The fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/status").read_text().split("\n")
    for line in fields:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
