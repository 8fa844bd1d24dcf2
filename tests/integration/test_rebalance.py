"""Several workers: every /metrics series comes from exactly one worker, so sums are exact,
and while workers join and leave under load /kpis only shows values of a prefix of the stream."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpis.engine import PartitionState
from streams.kafka.topics import Topics
from streams.read.exposition import render
from streams.read.snapshot_reader import read_snapshot
from streams.read.store import MemoryStore, Position
from streams.read.worker_view import WorkerView
from streams.simulate import Anomalies, simulate_history
from tests.integration.test_chaos import pick_owner, produce_in_chunks, wait_settled
from tests.kpis.test_properties import NOW_US
from tests.processes import WorkerGroup, get_json, wait_idle, wait_serving, write_chunks
from tests.reference import Reference, compare_snapshot, compute_reference, parse_time
from tests.streams.read.test_exposition import LINES

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: bytes) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


async def test_part_series_summed_over_workers_equal_the_whole_and_one_worker_reports() -> None:
    store = MemoryStore()
    for name, lines in (("crm.surveys:0", LINES[:2]), ("crm.tickets:1", LINES[2:])):
        state = PartitionState()
        for raw in lines:
            state.apply_raw(raw, NOW_US)
        values = list(state.ledger.values.items())
        await store.publish(
            name, Position(len(lines) - 1, watermark_us=state.ledger.watermark_us), values, True
        )
    snapshot, _ = await read_snapshot(store, None, 1.0)
    lag = {"crm.surveys:0": 0, "crm.tickets:1": 3}
    whole = samples(render(snapshot, lag))
    reporter = samples(render(snapshot, lag, WorkerView(frozenset({"crm.surveys:0"}), True)))
    other = samples(render(snapshot, lag, WorkerView(frozenset({"crm.tickets:1"}), False)))
    health = {"crmkpi_partitions_assigned", "crmkpi_rebalances_total"}
    health |= {"crmkpi_processing_errors_total"}
    summed: Samples = {}
    for worker in (reporter, other):
        for key, value in worker.items():
            if key[0] not in health:
                summed[key] = summed.get(key, 0.0) + value
    assert summed == whole
    assert any(name == "crmkpi_csat_ratio" for name, _ in reporter)
    assert not any(name == "crmkpi_csat_ratio" for name, _ in other)
    assert other[("crmkpi_consumer_lag_records", (("partition", "crm.tickets:1"),))] == 3
    assert ("crmkpi_consumer_lag_records", (("partition", "crm.tickets:1"),)) not in reporter
    assert reporter[("crmkpi_partitions_assigned", ())] == 1

    # The workers of one `crmkpi up` without Redis are scraped as one: its own process
    # exports the whole, whatever it owns, and the others nothing but their health.
    up = WorkerView(frozenset({"crm.tickets:1"}), True, exports="all")
    relayed = WorkerView(frozenset({"crm.surveys:0"}), False, exports="none")
    exported = samples(render(snapshot, lag, up))
    assert {key: v for key, v in exported.items() if key[0] not in health} == whole
    others = samples(render(snapshot, lag, relayed))
    assert not [key for key, v in others.items() if key[0] not in health and v]


SEED = 17
DAYS = 16  # about 28,000 events, all in the first 16 days: no 30-day window slides
CHUNKS = 10
PARTITIONS = 3
SAMPLE_EVERY = 0.2
Counts = dict[str, float]
Sample = tuple[str, float, Counts]  # member, monotonic time, counts


def counts(snapshot: Mapping[str, Any]) -> Counts:
    """The additive count figures of a /kpis snapshot: accepted, rejected by reason and the
    30-day rep activities (overall and per rep)."""
    events = snapshot["events"]
    found: Counts = {"accepted": events["accepted"]}
    found.update({f"rejected {reason}": n for reason, n in events["rejected"].items()})
    for entry in snapshot["kpis"]:
        if entry["kpi"] == "rep_activities" and entry["window"] == "30d":
            found[f"rep_activities {entry['labels']}"] = entry["value"] or 0
    return found


def reference_counts(reference: Reference) -> Counts:
    """The same figures computed from the raw events by the reference."""
    found: Counts = {"accepted": reference.accepted}
    found.update({f"rejected {reason}": n for reason, n in reference.rejected.items()})
    for (kpi, window, labels), value in reference.series.items():
        if kpi == "rep_activities" and window == "30d":
            found[f"rep_activities {dict(labels)}"] = value or 0
    return found


def assert_no_window_slides(lines: list[str], reference: Reference) -> None:
    """Every accepted activity lies within 29 days of the final watermark: in the 30-day
    window whatever watermark a prefix of the stream has (it is at most the final one)."""
    assert reference.watermark is not None
    times = []
    for line in lines:
        try:
            event = json.loads(line)
            if event["type"] == "activity.logged":
                times.append(parse_time(event["occurred_at"]))
        except (ValueError, KeyError, TypeError):
            continue
    accepted = [at for at in times if at is not None and at <= reference.watermark]
    assert accepted and reference.watermark - min(accepted) < timedelta(days=29)


def prefix_problems(samples: list[Sample], final: Counts) -> list[str]:
    """Samples that cannot be the value of a prefix of the stream; [] when all can."""
    problems = []
    last: dict[str, Counts] = {}
    for name, _, found in samples:
        for key, value in found.items():
            if value > final.get(key, 0):
                problems.append(f"{name}: {key} = {value} above the final {final.get(key, 0)}")
        for key, value in last.get(name, {}).items():
            if found.get(key, 0) < value:
                problems.append(f"{name}: {key} fell from {value} to {found.get(key, 0)}")
        last[name] = found
    return problems


def pause_between_chunks(_: int) -> None:
    """Keeps the load going over the membership changes."""
    time.sleep(2.0)


def test_prefix_problems_flag_a_count_above_its_final_value_and_a_fall() -> None:
    final = {"accepted": 10, "rejected duplicate": 2}
    fine = [("w1", 0.0, {"accepted": 3}), ("w2", 0.1, {"accepted": 2}), ("w1", 0.2, final)]
    assert prefix_problems(fine, final) == []
    above = [("w1", 0.0, {"accepted": 3, "rejected duplicate": 3})]
    assert prefix_problems(above, final) == ["w1: rejected duplicate = 3 above the final 2"]
    fall = [("w1", 0.0, {"accepted": 5, "rejected duplicate": 1}), ("w1", 0.2, {"accepted": 6})]
    assert prefix_problems(fall, final) == ["w1: rejected duplicate fell from 1 to 0"]


class Sampler(threading.Thread):
    """Reads /kpis of every live member of `group` every SAMPLE_EVERY seconds until `halt`."""

    def __init__(self, group: WorkerGroup) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.samples: list[Sample] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for member in list(self.group.members):
                try:
                    snapshot = get_json(f"{member.url}/kpis")
                except (OSError, ValueError):  # stopped or killed meanwhile
                    continue
                self.samples.append((member.name, time.monotonic(), counts(snapshot)))
            self.halt.wait(SAMPLE_EVERY)


@pytest.mark.integration
def test_kpis_sampled_while_workers_join_and_leave_are_values_of_a_prefix(
    broker: str, redis_url: str, tmp_path: Path
) -> None:
    """Every sampled count is at most its final value and never falls for one worker.

    The history is short enough that no 30-day window slides: every count sampled is a
    sum, over source partitions, of events in a prefix of that partition, so the value
    of a prefix only grows with the stream and ends at the reference. A partition counted
    twice (by two owners, or replayed on top of its recovered state) shows as a count
    above the final value, or as a fall once it is counted once again; a partition
    missing from the combination (its new owner not yet recovered, or an entry lost)
    shows as a fall. Sampling each per-reason and per-rep count keeps such a change from
    hiding behind the events arriving meanwhile. A worker joins, one leaves with SIGTERM,
    another joins and one is SIGKILLed, all while the history goes in.
    """
    lines = list(simulate_history(SEED, DAYS, anomalies=Anomalies.default()))
    reference = compute_reference(lines, now=datetime.now(UTC))
    assert_no_window_slides(lines, reference)
    final = reference_counts(reference)
    chunks = write_chunks(lines, tmp_path, CHUNKS)
    rng = random.Random(SEED)
    changes: list[float] = []
    with WorkerGroup(broker, redis_url, tmp_path, CRMKPI_PARTITIONS=str(PARTITIONS)) as group:
        group.start()
        group.start()
        sampler = Sampler(group)
        sampler.start()
        reports: list[str] = []
        producer = threading.Thread(
            target=produce_in_chunks, args=(broker, chunks, pause_between_chunks, reports)
        )
        producer.start()
        try:
            for change in ("add", "stop", "add", "kill"):
                time.sleep(3.5)  # the scenario: a membership change every 3.5 s under load
                changes.append(time.monotonic())
                if change == "add":
                    group.start(wait_ready=False)
                else:
                    victim, _ = pick_owner(group.members, rng)
                    (group.stop if change == "stop" else group.kill)(victim)
                print(f"{time.strftime('%X')} {change}: {[m.name for m in group.members]}")
        finally:
            producer.join()
        first = group.members[0]
        wait_serving(first.url, first.process)
        wait_idle(first.url, accepted_at_least=reference.accepted)
        wait_settled(group.members, partitions=len(Topics().sources) * PARTITIONS)
        wait_idle(first.url)
        sampler.halt.set()
        sampler.join()
        samples = sampler.samples
        print(f"{len(samples)} samples, {len(lines)} events")
        assert prefix_problems(samples, final) == []
        for member in group.members:
            assert compare_snapshot(reference, get_json(f"{member.url}/kpis")) == [], member.name
    for at in changes:  # each change happened under load, and was sampled
        assert any(t > at and s["accepted"] < reference.accepted for _, t, s in samples)
