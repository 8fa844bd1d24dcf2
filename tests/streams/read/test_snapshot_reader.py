"""A long-lived snapshot reader reuses what did not change and stays exact as partitions change."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpis.churn import SIGNAL_PART_PREFIX, TICKETS_OPENED_PART, segment_part
from kpis.engine import PartitionState
from kpis.events import decode_event
from kpis.windows import HOUR_US
from streams.read import journal
from streams.read.exposition import render
from streams.read.redis_store import RedisStore
from streams.read.snapshot_reader import SnapshotReader
from streams.read.store import MemoryStore, PartitionView, Position, Store
from streams.simulate import simulate_history
from tests.integration.test_churn import expected_risks
from tests.reference import compare_snapshot, compute_reference

PARTITIONS = 4
CHUNKS = 5


def partition_of(line: str) -> str:
    """Events of one entity in one partition, as the producer keys them."""
    entity = decode_event(line.encode()).entity_id
    return f"crm.events:{zlib.crc32(entity.encode()) % PARTITIONS}"


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_reads_between_batches_equal_the_reference_of_the_published_events(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """A long-lived reader follows each partition's changes and whole replacements (a
    partition published whole after a recovery) and stays equal to the reference."""
    store: Store = MemoryStore()
    if kind == "redis":
        store = RedisStore(request.getfixturevalue("redis_url"), namespace="reader-follows")
    reader = SnapshotReader(store)
    await _publish_and_read(store, reader, CHUNKS)
    assert all(part.tracked is not None for part in reader.partitions.values())


async def test_a_reader_outrun_by_the_changes_summarizes_plainly_until_it_can_follow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between reads, more changes than the journal keeps (a catch-up): each such
    partition is summarized plainly; once the journal holds its changes again, it is
    followed again. Every read equals the reference."""
    # The journal keeps about one batch of changes: six batches outrun it.
    trim = journal.Journal._trim
    monkeypatch.setattr(journal.Journal, "_trim", lambda self, _: trim(self, 0))
    monkeypatch.setattr(journal, "JOURNAL_MIN_ENTRIES", 2_000)
    store, kinds = MemoryStore(), []
    reader = SnapshotReader(store)

    def note_kinds() -> None:
        kinds.append({part.tracked is None for part in reader.partitions.values()})

    await _publish_and_read(store, reader, 4 * CHUNKS, read_every=6, after_read=note_kinds)
    plain = [True in each for each in kinds]
    assert True in plain and plain[-1] is False  # followed again once read every batch


async def _publish_and_read(
    store: Store,
    reader: SnapshotReader,
    chunks: int,
    read_every: int = 1,
    after_read: Callable[[], None] = lambda: None,
) -> None:
    """Publish a simulated history in `chunks` batches as workers do, reading after every
    `read_every`-th batch and after the last one (which is read every batch from the
    middle on), each read compared with the reference of the published events."""
    lines = list(simulate_history(5, 20))
    now = datetime.now(UTC)
    now_us = int(now.timestamp() * 1_000_000)
    names = [f"crm.events:{n}" for n in range(PARTITIONS)]
    states = {name: PartitionState() for name in names}
    applied: dict[str, list[int]] = {name: [] for name in names}  # line numbers
    published: dict[str, list[int]] = {name: [] for name in names}
    step = len(lines) // chunks + 1
    for batch, start in enumerate(range(0, len(lines), step)):
        for number in range(start, min(start + step, len(lines))):
            name = partition_of(lines[number])
            states[name].apply_raw(lines[number].encode(), now_us)
            states[name].offset += 1
            applied[name].append(number)
        for name in names:
            if name == names[batch % PARTITIONS] and start + step < len(lines):
                continue  # this partition's batch is published later
            state = states[name]
            changes = state.ledger.take_changes()
            # A partition's first publish is whole, and now and then one after (as after
            # a recovery, or when the store had missed changes).
            whole = not published[name] or (batch + names.index(name)) % 3 == 0
            if whole:
                changes = list(state.ledger.values.items())
            position = Position(state.offset, watermark_us=state.ledger.watermark_us)
            await store.publish(name, position, changes, whole)
            published[name] = list(applied[name])
        last = start + step >= len(lines)
        if batch % read_every and batch < chunks // 2 and not last:
            continue
        visible = sorted(number for numbers in published.values() for number in numbers)
        reference = compute_reference([lines[number] for number in visible], now)
        snapshot, _ = await reader.read(None, 1.0)
        after_read()
        assert compare_snapshot(reference, snapshot.to_json()) == []
    assert sum(map(len, published.values())) == len(lines)
    risks = {r.customer_id: (r.segment, set(r.signals)) for r in snapshot.churn_risks}
    assert risks == expected_risks(lines)
    assert risks  # the history has customers at risk
    await store.close()


async def test_churn_risk_reads_combined_parts_when_partitions_do_not_simply_add_up() -> None:
    watermark = 1_000 * HOUR_US
    hour = watermark // HOUR_US
    store = MemoryStore()
    low_csat, reopened = SIGNAL_PART_PREFIX + "low_csat", SIGNAL_PART_PREFIX + "reopened_ticket"
    first = [
        ((segment_part("smb"), "c1", 0, 0), 1),
        ((segment_part("smb"), "c2", 0, 0), 1),
        ((low_csat, "c1", HOUR_US, hour), 1),
        ((low_csat, "c2", HOUR_US, hour), 1),
        ((TICKETS_OPENED_PART, "c2", HOUR_US, hour), 2),
    ]
    second = [
        ((segment_part("smb"), "c1", 0, 0), -1),  # c1 is active in no partition combined
        ((reopened, "c1", HOUR_US, hour), 1),
        ((reopened, "c2", HOUR_US, hour), 1),
        ((TICKETS_OPENED_PART, "c2", HOUR_US, hour - 1), 1),
    ]
    await store.publish("crm.customers:0", Position(1, watermark_us=watermark), first, True)
    await store.publish("crm.tickets:0", Position(1, watermark_us=watermark), second, True)
    snapshot, _ = await SnapshotReader(store).read(None, 1.0)
    assert [(r.customer_id, r.segment, r.signals) for r in snapshot.churn_risks] == [
        ("c2", "smb", ("low_csat", "many_tickets", "reopened_ticket"))
    ]


class CountingStore(MemoryStore):
    """The in-process store, counting reads and answering each after a pause."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self) -> dict[str, PartitionView]:
        self.reads += 1
        await asyncio.sleep(0.05)
        return await super().read()


async def test_concurrent_reads_share_one() -> None:
    store = CountingStore()
    await store.publish(
        "crm.surveys:0",
        Position(0, watermark_us=HOUR_US),
        [(("events_accepted", "", 0, 0), 1)],
        True,
    )
    reader = SnapshotReader(store)
    results = await asyncio.gather(*(reader.read(None, 1.0) for _ in range(5)))
    assert store.reads == 1
    assert {snapshot.accepted for snapshot, _ in results} == {1}
    await store.publish(
        "crm.surveys:0",
        Position(1, watermark_us=HOUR_US),
        [(("events_accepted", "", 0, 0), 2)],
        False,
    )
    snapshot, _ = await reader.read(None, 1.0)
    assert (store.reads, snapshot.accepted) == (2, 2)


async def test_redis_reads_again_only_the_partitions_that_changed(redis_url: str) -> None:
    store = RedisStore(redis_url, namespace="reader-test")
    try:
        part = ("csat_responses", "emea", HOUR_US, 7)
        await store.publish("crm.surveys:0", Position(4, watermark_us=100), [(part, 3)], True)
        await store.publish("crm.surveys:1", Position(4, watermark_us=100), [(part, 5)], True)
        before = await store.read()
        await store.publish("crm.surveys:1", Position(5, watermark_us=100), [(part, 6)], False)
        after = await store.read()
        assert after["crm.surveys:0"] is before["crm.surveys:0"]
        assert (after["crm.surveys:1"].offset, after["crm.surveys:1"].values) == (5, {part: 6})
        await store.publish(
            "crm.surveys:1", Position(5, watermark_us=100), [(part, 8)], False
        )  # same offset
        assert (await store.read())["crm.surveys:1"].values == {part: 8}
    finally:
        await store.close()


async def test_a_read_says_when_it_was_made_and_how_far_the_watermark_is_behind() -> None:
    state = PartitionState()
    line = next(simulate_history(5, 1))
    state.apply_raw(line.encode(), now_us=int(datetime.now(UTC).timestamp() * 1_000_000))
    store = MemoryStore()
    watermark_us = state.ledger.watermark_us
    assert watermark_us is not None
    await store.publish("crm.events:0", Position(0, watermark_us=watermark_us), [], True)
    before = datetime.now(UTC).timestamp()
    snapshot, _ = await SnapshotReader(store).read(None, 1.0)
    after = datetime.now(UTC).timestamp()
    document = snapshot.to_json()
    processed_at = datetime.fromisoformat(str(document["processed_at"])).timestamp()
    assert before - 1e-6 <= processed_at <= after + 1e-6
    expected_lag = processed_at - watermark_us / 1_000_000
    assert abs(float(document["lag_seconds"]) - expected_lag) < 0.002  # type: ignore[arg-type]
    (family,) = [
        family
        for family in text_string_to_metric_families(render(snapshot, {}).decode())
        if family.name == "crmkpi_watermark_lag_seconds"
    ]
    assert family.samples[0].value == document["lag_seconds"]
