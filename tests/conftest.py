"""Fixtures for real services on free loopback ports: the embedded broker and Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.broker import EmbeddedBroker, die_with_parent


def pytest_configure(config: pytest.Config) -> None:
    """The test process's aiokafka clients never auto-create topics, as crmkpi's own do."""
    install_metadata_no_auto_create()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A fresh embedded broker (empty, in memory) per test; yields its bootstrap address.

    Function scope: Tansu starts in about 30 ms, and tests never see each other's topics.
    """
    with EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=tmp_path / "tansu.log") as started:
        yield started.bootstrap


def stop(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; nothing when it has exited already."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for the session (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed: run scripts/ensure-services.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    command += ["--logfile", str(directory / "redis.log")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start: see {directory / 'redis.log'}")
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        stop(process)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test: `redis://127.0.0.1:PORT/0`."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server
