"""Fixtures for real services on free loopback ports: the embedded broker and Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from streams.kafka.adapter import install_metadata_no_auto_create
from streams.kafka.broker import EmbeddedBroker, die_with_parent, free_port
from tests.waiting import wait_until


def pytest_configure(config: pytest.Config) -> None:
    """The test process's aiokafka clients never auto-create topics, as crmkpi's own do."""
    install_metadata_no_auto_create()


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


def wait_pinging(url: str, process: subprocess.Popen[Any], log: Path | None = None) -> None:
    """Until the redis-server `process` at `url` answers PING (it fails if the server exits)."""
    client = redis.Redis.from_url(url)

    def pings() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"redis-server exited{f': see {log}' if log else ''}")
        return bool(client.ping())

    try:
        wait_until(
            pings, f"redis-server at {url} answering PING", ignoring=(redis.ConnectionError,)
        )
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for the session (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed: run scripts/ensure-services.sh"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with private_redis(binary, tmp_path_factory.mktemp("redis")) as url:
        yield url


def redis_command(binary: str, port: int, directory: Path) -> list[str]:
    """A redis-server on loopback without persistence, its files and log in `directory`."""
    return [
        *(binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""),
        *("--appendonly", "no", "--dir", str(directory), "--logfile", str(directory / "redis.log")),
    ]


@contextmanager
def private_redis(binary: str, directory: Path) -> Iterator[str]:
    """A `redis_command` server on a free port, running while the block runs; yields its URL."""
    port = free_port()
    command = redis_command(binary, port, directory)
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_pinging(url, process, directory / "redis.log")
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
