"""Faults around the worker: Redis restarted empty, the broker paused, a worker SIGKILLed.

Nothing the broker holds is lost or counted twice: after each fault every KPI equals
the reference computed from the raw events.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from streams.kafka.broker import EmbeddedBroker
from streams.kafka.topics import Topics
from streams.simulate import Anomalies, simulate_history
from tests.conftest import free_port
from tests.integration.test_chaos import pick_owner, wait_settled
from tests.processes import (
    RedisServer,
    WorkerGroup,
    committed_offsets,
    crmkpi_env,
    get_json,
    run_crmkpi,
    scrape,
    wait_idle,
    worker,
    write_chunks,
)
from tests.reference import Reference, compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

SEED = 23
PARTITIONS = 2
BROKER_PAUSE_SECONDS = 8.0  # longer than the session timeout the tests give workers (6 s)


def history(days: int) -> tuple[list[str], Reference]:
    lines = list(simulate_history(SEED, days, anomalies=Anomalies.default()))
    return lines, compute_reference(lines, now=datetime.now(UTC))


def produce(bootstrap: str, chunk: Path) -> None:
    result = run_crmkpi(["produce", str(chunk)], crmkpi_env(bootstrap, 0))
    assert result.returncode in (0, 1), result.stderr  # 1: the anomalies were rejected


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def accepted(url: str) -> int:
    return int(get_json(f"{url}/kpis")["events"]["accepted"])


def test_redis_stopped_mid_stream_and_restarted_empty_catches_up_exactly(
    broker: str, tmp_path: Path
) -> None:
    """While Redis is down the worker consumes and checkpoints on (the group's committed
    offsets cover every record produced), /readyz fails and /kpis says since when it is
    stale; once Redis is back, empty, readers catch up to the reference."""
    lines, reference = history(days=10)
    chunks = write_chunks(lines, tmp_path, 3)
    produced = [len(chunk.read_text().splitlines()) for chunk in chunks]
    store = RedisServer(tmp_path)
    store.start()
    try:
        extra = {"CRMKPI_REDIS_URL": store.url, "CRMKPI_PARTITIONS": str(PARTITIONS)}
        with worker(broker, tmp_path, **extra) as (url, _):
            produce(broker, chunks[0])
            wait_until(lambda: accepted(url) > 0, "events applied")
            store.stop()
            produce(broker, chunks[1])
            wait_until(
                lambda: committed_offsets(broker, Topics().sources) >= produced[0] + produced[1],
                "records consumed and committed while Redis is down",
            )
            assert http_status(f"{url}/readyz") == 503
            stale = get_json(f"{url}/kpis")
            assert "stale_since" in stale
            assert stale["events"]["accepted"] < reference.accepted
            store.start()
            produce(broker, chunks[2])
            snapshot = wait_idle(url, accepted_at_least=reference.accepted)
            assert compare_snapshot(reference, snapshot) == []
            wait_until(lambda: http_status(f"{url}/readyz") == 200, "ready again")
            assert "stale_since" not in get_json(f"{url}/kpis")
    finally:
        store.stop()


def test_broker_paused_mid_stream_worker_resumes_exactly(tmp_path: Path) -> None:
    """SIGSTOP the broker (its in-memory log survives) while the worker applies a batch,
    for longer than the session timeout: /readyz fails and /kpis reports an unknown lag
    without waiting for the broker; after SIGCONT the worker resumes by itself."""
    lines, reference = history(days=8)
    chunks = write_chunks(lines, tmp_path, 2)
    address = f"127.0.0.1:{free_port()}"
    with EmbeddedBroker(address, log_path=tmp_path / "tansu.log") as broker:
        assert broker.process is not None
        pid = broker.process.pid
        with worker(broker.bootstrap, tmp_path, CRMKPI_PARTITIONS=str(PARTITIONS)) as (
            url,
            process,
        ):
            produce(broker.bootstrap, chunks[0])
            at_pause = wait_until(lambda: accepted(url), "events applied")
            os.kill(pid, signal.SIGSTOP)
            try:
                paused_at = time.monotonic()
                assert http_status(f"{url}/readyz") == 503  # readers answer, not hang
                assert get_json(f"{url}/kpis")["lag"] is None
                time.sleep(max(0.0, BROKER_PAUSE_SECONDS - (time.monotonic() - paused_at)))
            finally:
                os.kill(pid, signal.SIGCONT)
            print(f"broker paused {BROKER_PAUSE_SECONDS:g}s at {at_pause} accepted")
            produce(broker.bootstrap, chunks[1])
            snapshot = wait_idle(url, accepted_at_least=reference.accepted)
            assert process.poll() is None
    assert compare_snapshot(reference, snapshot) == []


def test_recovery_time_after_sigkill(broker: str, redis_url: str, tmp_path: Path) -> None:
    """How long until a SIGKILLed worker's partitions are reflected again (lag 0 with every
    event applied), with the rest of the history produced right after the kill.

    Run with -s for the figures: the time includes the session timeout (6 s in tests,
    `CRMKPI_SESSION_TIMEOUT`, 10 s by default) before the group moves the partitions.
    """
    partitions = 3
    lines, reference = history(days=30)
    cut = len(lines) * 9 // 10
    before = compute_reference(lines[:cut], now=datetime.now(UTC))
    first, rest = write_chunks(lines[:cut], tmp_path, 1)[0], tmp_path / "rest.jsonl"
    rest.write_text("".join(f"{line}\n" for line in lines[cut:]))
    extra = {"CRMKPI_PARTITIONS": str(partitions)}
    with WorkerGroup(broker, redis_url, tmp_path, **extra) as group:
        group.start()
        group.start()
        produce(broker, first)
        wait_idle(group.members[0].url, accepted_at_least=before.accepted)
        all_partitions = len(Topics().sources) * partitions
        wait_settled(group.members, partitions=all_partitions)
        victim, _ = pick_owner(group.members, random.Random(SEED))
        owned = int(scrape(victim.url)[("crmkpi_partitions_assigned", ())])
        survivor = next(member for member in group.members if member is not victim)
        killed_at = time.monotonic()
        group.kill(victim)
        producer = threading.Thread(target=produce, args=(broker, rest))
        producer.start()
        try:
            wait_settled(group.members, partitions=all_partitions)
            moved = time.monotonic() - killed_at
            snapshot = wait_idle(survivor.url, accepted_at_least=reference.accepted)
            recovered = time.monotonic() - killed_at
        finally:
            producer.join()
        memory = redis.Redis.from_url(redis_url).info("memory")["used_memory"]
    print(
        f"\nrecovery after SIGKILL: {owned} of {all_partitions} source partitions moved after "
        f"{moved:.1f}s, lag 0 with all {reference.accepted} events after {recovered:.1f}s "
        f"(state: {before.accepted} events applied before the kill, "
        f"{len(lines) - cut} produced after it, Redis {memory / 1e6:.1f} MB)"
    )
    assert compare_snapshot(reference, snapshot) == []
    assert recovered < 60
