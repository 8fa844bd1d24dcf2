"""Real crmkpi processes for integration tests: started on free ports, always stopped."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.broker import free_port
from tests.conftest import redis_command, stop, wait_pinging
from tests.waiting import WAIT_SECONDS, wait_until


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
    args: Sequence[str], env: dict[str, str], timeout: float = WAIT_SECONDS
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


def wait_until_ready(url: str, process: subprocess.Popen[str], endpoint: str = "/readyz") -> None:
    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"crmkpi exited with {process.returncode}")
        get_json(f"{url}{endpoint}")
        return True

    wait_until(answers, f"{url}{endpoint} to answer", ignoring=(OSError,))


def wait_idle(url: str, accepted_at_least: int = 0) -> dict[str, Any]:
    """The snapshot once the lag is 0 (and enough events were applied)."""

    def idle(snapshot: dict[str, Any]) -> bool:
        return bool(snapshot["lag"] == 0 and snapshot["events"]["accepted"] >= accepted_at_least)

    snapshot: dict[str, Any] = wait_until(
        lambda: get_json(f"{url}/kpis"),
        f"{url} idle: lag 0, at least {accepted_at_least} accepted",
        idle,
        ignoring=(OSError,),
    )
    return snapshot


def spawn_crmkpi(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """Start a long-running `crmkpi` command, its output appended to `log`."""
    with log.open("a") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )


@contextmanager
def crmkpi_process(
    args: Sequence[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[str]]:
    """A long-running `crmkpi` command, terminated (then killed) on exit."""
    log.write_text("")
    process = spawn_crmkpi(args, env, log)
    try:
        yield process
    finally:
        stop(process, 20)


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


@dataclass
class GroupMember:
    """One `crmkpi worker` of a `WorkerGroup`."""

    name: str
    url: str
    process: subprocess.Popen[str]


class WorkerGroup:
    """`crmkpi worker` processes of one consumer group, started and killed at will.

    Every member shares the Redis store at `redis_url`; `close` stops those still running.
    Members log at INFO; when the block fails, the end of every member's log is printed.
    """

    def __init__(self, bootstrap: str, redis_url: str, tmp: Path, **extra: str) -> None:
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.extra = {"CRMKPI_REDIS_URL": redis_url, "CRMKPI_LOG_LEVEL": "INFO", **extra}
        self.members: list[GroupMember] = []
        self.started = 0

    def start(self, wait_ready: bool = True) -> GroupMember:
        """A new member on a free HTTP port (ready to serve, unless `wait_ready` is false)."""
        self.started += 1
        name = f"worker-{self.started}"
        port = free_port()
        process = spawn_crmkpi(
            ["worker"], crmkpi_env(self.bootstrap, port, **self.extra), self.tmp / f"{name}.log"
        )
        member = GroupMember(name, f"http://127.0.0.1:{port}", process)
        self.members.append(member)
        if wait_ready:
            wait_serving(member.url, process)
        return member

    def kill(self, member: GroupMember) -> None:
        """SIGKILL: no goodbye to the group, no flush."""
        member.process.kill()
        member.process.wait()
        self.members.remove(member)

    def stop(self, member: GroupMember) -> None:
        """A graceful stop (SIGTERM): the member leaves the group."""
        stop(member.process, 20)
        self.members.remove(member)

    def close(self) -> None:
        for member in list(self.members):
            stop(member.process, 20)
        self.members.clear()

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self.close()
        if error_type is not None:
            for number in range(1, self.started + 1):
                print_log_end(self.tmp / f"worker-{number}.log")


def print_log_end(log: Path, lines: int = 60) -> None:
    """The last `lines` lines of a process's log, for a failed test's report."""
    print(f"--- the end of {log.name} ---")
    print("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))


def wait_serving(url: str, process: subprocess.Popen[str]) -> None:
    """Until `url` answers HTTP at all (ready or not: a joining member may own nothing yet)."""
    wait_until_ready(url, process, endpoint="/healthz")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `url`/metrics, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class RedisServer:
    """A private redis-server without persistence on a fixed free port: stop it, start it again."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: run scripts/ensure-services.sh")
        port = free_port()
        self.command = redis_command(binary, port, directory)
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL)
        wait_pinging(self.url, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def write_chunks(lines: Sequence[str], directory: Path, count: int) -> list[Path]:
    """`lines` split, in order, into `count` JSONL files of about equal size."""
    size = -(-len(lines) // count)
    chunks = []
    for index in range(count):
        chunk = directory / f"chunk-{index}.jsonl"
        chunk.write_text("".join(f"{line}\n" for line in lines[index * size : (index + 1) * size]))
        chunks.append(chunk)
    return chunks


async def partitions_of(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of `topics`, as the broker's metadata has them now."""
    await consumer.topics()
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in consumer.partitions_for_topic(topic) or ()
    ]


def committed_offsets(bootstrap: str, topics: Sequence[str], group: str = "crmkpi") -> int:
    """The consumer group's committed offsets summed over `topics` (0 where none)."""

    async def fetch() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = await partitions_of(consumer, topics)
            return sum([(await consumer.committed(tp)) or 0 for tp in partitions])
        finally:
            await consumer.stop()

    return asyncio.run(fetch())
