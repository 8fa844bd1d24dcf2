"""The benchmark's quick mode runs end to end and writes well-formed results (no timing checks)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from bench import engine as engine_bench
from bench import workload
from bench.catchup import Reading, summarize
from kpis.events import decode_event, to_micros
from streams.kafka.topics import Topics

pytestmark = pytest.mark.integration  # a real broker and worker: not in `make test-fast`


def test_quick_benchmark_writes_every_measure(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["mode"] == "quick"
    throughput = results["throughput"]
    assert throughput["events"] > 0
    for measure in ("worker_per_second", "baseline_per_second", "ratio"):
        runs = throughput[measure]["runs"]
        assert runs and all(value > 0 for value in runs)
        assert throughput[measure]["min"] == min(runs)
    worker, baseline = throughput["worker_per_second"]["runs"], throughput["baseline_per_second"]
    assert throughput["ratio"]["runs"][0] == worker[0] / baseline["runs"][0]
    for setting in ("latency", "latency_replayed"):
        assert [run["offered_per_second"] for run in results[setting]] == [500.0, 2000.0]
        for run in results[setting]:
            assert run["events"] > 0
            assert 0 <= run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
    assert results["memory"]["opportunities_mib_per_100k"] > 0
    assert results["memory"]["tickets_mib_per_100k"] > 0
    for endpoint in ("/metrics", "/kpis"):
        assert results["scrape"][endpoint]["bytes"] > 0
        assert results["scrape"][endpoint]["median_ms"] > 0
    assert [(run["workers"], run["store"]) for run in results["catchup"]] == [
        (1, "in-process"),
        (2, "relayed"),
        (2, "Redis"),
    ]
    for run in results["catchup"]:
        assert run["days"] == 60
        assert 0 < run["events"] <= run["history_events"]
        assert run["worker_per_second"] > 0 and run["baseline_per_second"] > 0
        assert run["ratio"] == run["worker_per_second"] / run["baseline_per_second"]
        assert 0 < run["ratio"] < 2
        assert run["cpus"] == results["machine"]["cpus"]
    readers = results["readers"]
    assert (readers["readers"], readers["every_seconds"]) == (1, 5.0)
    for measure in ("alone_per_second", "read_per_second", "ratio"):
        assert readers[measure]["runs"] and all(value > 0 for value in readers[measure]["runs"])
    assert 0 < readers["ratio"]["median"] < 2
    rows = ("worker / baseline", "(live)", "(replayed history)", "catch-up, 2 workers")
    for row in (*rows, "reader every 5 s"):
        assert row in done.stdout


def test_a_catch_up_done_before_the_first_read_counts_from_the_launch() -> None:
    """A short history caught up before `/kpis` first answered: no read before progress."""
    readings = [Reading(at=12.0, seconds=0.5, handled=25_000, lag=0)]
    assert summarize(readings, launched=10.0)["worker_per_second"] == 10_000
    idle_first = [Reading(11.0, 0.01, 0, None), *readings]
    assert summarize(idle_first, launched=10.0)["worker_per_second"] == 25_000 / 1.5


def test_a_catch_up_counts_to_the_answer_of_the_read_that_saw_it_caught_up() -> None:
    readings = [Reading(1.0, 0.01, 0, 9), Reading(2.0, 0.02, 50, 5), Reading(3.0, 3.0, 90, 0)]
    assert summarize(readings, launched=0.0)["worker_per_second"] == 90 / 5.0


def test_live_traffic_is_the_history_stamped_with_the_time_of_sending() -> None:
    records = workload.keyed(workload.simulated(50), Topics())
    before_us = time.time_ns() // 1000
    live = workload.on_the_wall_clock(records, rate=1_000.0)
    times = [to_micros(decode_event(record.value).occurred_at) for record in live]
    assert before_us <= times[0] <= time.time_ns() // 1000
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [1_000] * 49
    for record, sent in zip(records, live, strict=True):
        assert (sent.topic, sent.key) == (record.topic, record.key)
        event, original = orjson.loads(sent.value), orjson.loads(record.value)
        assert {**event, "occurred_at": None} == {**original, "occurred_at": None}


def test_the_engine_bench_applies_each_partitions_records_once_and_in_order() -> None:
    lines = [record.value for record in workload.keyed(workload.simulated(3_000), Topics())]
    batches = engine_bench.chunks(lines, 100)
    assert all(0 < len(records) <= 100 for _, records in batches)
    assert sorted(itertools.chain.from_iterable(r for _, r in batches)) == sorted(lines)
    by_source: dict[object, list[bytes]] = {}
    for source, records in batches:
        by_source.setdefault(source, []).extend(records)
    for records in by_source.values():
        held = set(records)
        assert records == [line for line in lines if line in held]  # the log's order
    timing = engine_bench.run(batches)
    assert timing.apply > 0 and timing.flush > 0
