"""End to end on the real broker and Redis: simulated history in, exact KPIs out."""

from __future__ import annotations

import json
import signal
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams.simulate import Anomalies, simulate_history
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.reference import REASONS, compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def write_history(path: Path, seed: int, days: int, anomalies: Anomalies) -> list[str]:
    lines = list(simulate_history(seed, days, anomalies=anomalies))
    path.write_text("\n".join(lines) + "\n")
    return lines


def produce(bootstrap: str, path: Path) -> str:
    result = run_crmkpi(["produce", str(path)], crmkpi_env(bootstrap, 0))
    return result.stdout + result.stderr


def late_by_days(lines: list[str]) -> float:
    """How far the latest-arriving event lies behind the event times already seen."""
    seen_max, worst = None, 0.0
    for line in lines:
        try:
            at = datetime.fromisoformat(json.loads(line)["occurred_at"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if at.year > 2050:  # future_timestamp anomalies
            continue
        if seen_max is not None:
            worst = max(worst, (seen_max - at).total_seconds() / 86400)
        seen_max = at if seen_max is None else max(seen_max, at)
    return worst


@pytest.mark.parametrize(("seed", "store"), [(11, "redis"), (12, "memory")])
def test_sixty_days_with_anomalies_equal_the_reference(
    broker: str, redis_url: str, tmp_path: Path, seed: int, store: str
) -> None:
    history = tmp_path / "history.jsonl"
    # with copies delivered again 30 to 80 days later: `too_late` past the grace period
    anomalies = replace(Anomalies.default(), stale_copy=0.002)
    lines = write_history(history, seed=seed, days=60, anomalies=anomalies)
    assert late_by_days(lines) > 5  # late events, days behind, are part of the history
    reference = compute_reference(lines, now=datetime.now(UTC))
    extra = {"CRMKPI_REDIS_URL": redis_url} if store == "redis" else {}
    with worker(broker, tmp_path, **extra) as (url, _):
        produce(broker, history)
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
    assert compare_snapshot(reference, snapshot) == []
    assert set(reference.rejected) == set(REASONS)  # every kind of rejection is exercised


async def dead_letters(bootstrap: str) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        "crm.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        return [
            (record.value or b"", dict(record.headers))
            for records in batches.values()
            for record in records
        ]
    finally:
        await consumer.stop()


async def test_bad_lines_are_named_counted_and_dead_lettered(broker: str, tmp_path: Path) -> None:
    good = (
        '{"event_id":"a","type":"survey.csat","occurred_at":"2026-03-01T09:00:00Z",'
        '"response_id":"r1","score":5,"team":"emea"}'
    )
    schema = good.replace('"score":5', '"score":9').replace('"a"', '"b"')
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([good, "{not json", schema, good]) + "\n")
    with worker(broker, tmp_path) as (url, _):
        result = run_crmkpi(["produce", str(path)], crmkpi_env(broker, 0))
        snapshot = wait_until(
            lambda: wait_idle(url, accepted_at_least=1),
            "3 rejections counted",
            lambda snapshot: sum(snapshot["events"]["rejected"].values()) >= 3,
        )
    assert result.returncode != 0
    report = result.stdout + result.stderr
    assert "line 2: invalid_json" in report
    assert "line 3: schema" in report
    assert "line 4: duplicate" in report
    assert snapshot["events"]["rejected"] == {"invalid_json": 1, "schema": 1, "duplicate": 1}
    letters = await dead_letters(broker)
    assert sorted(headers["reason"] for _, headers in letters) == [
        b"duplicate",
        b"invalid_json",
        b"schema",
    ]
    assert b"{not json" in [value for value, _ in letters]


@pytest.mark.parametrize(
    ("stop", "timezone"),
    [(signal.SIGKILL, "Asia/Kathmandu"), (signal.SIGTERM, "America/New_York")],
)
def test_restart_mid_stream_gives_the_same_snapshot(
    broker: str, tmp_path: Path, stop: signal.Signals, timezone: str
) -> None:
    lines = write_history(
        tmp_path / "history.jsonl", seed=5, days=10, anomalies=Anomalies.default()
    )
    reference = compute_reference(lines, now=datetime.now(UTC), timezone=timezone)
    zone = {"CRMKPI_TIMEZONE": timezone}  # local-day buckets survive in the checkpoints
    # Stopped mid-stream whatever the worker's speed: while the first third is produced,
    # once it has applied some events; the rest is produced while it is down.
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_text("".join(f"{line}\n" for line in lines[: len(lines) // 3]))
    rest.write_text("".join(f"{line}\n" for line in lines[len(lines) // 3 :]))
    with worker(broker, tmp_path, "first", **zone) as (url, process):
        producing = threading.Thread(target=produce, args=(broker, first))
        producing.start()
        accepted = wait_until(
            lambda: get_json(f"{url}/kpis")["events"]["accepted"],
            "1000 events applied",
            lambda accepted: accepted >= 1000,
        )
        process.send_signal(stop)
        process.wait()
        producing.join()
    produce(broker, rest)
    assert accepted < reference.accepted / 2
    with worker(broker, tmp_path, "second", **zone) as (url, process):
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        again = get_json(f"{url}/kpis")
        process.send_signal(stop)
        process.wait()
    assert compare_snapshot(reference, snapshot) == []
    assert again["kpis"] == snapshot["kpis"]
    # No record comes after this restart: the worker recovers its partitions on assignment.
    with worker(broker, tmp_path, "third", **zone) as (url, _):
        assert (
            compare_snapshot(reference, wait_idle(url, accepted_at_least=reference.accepted)) == []
        )
