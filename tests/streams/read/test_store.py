"""The readers' store: in-process, Redis and the relay of `crmkpi up` behave the same, and
only move forward."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kpis.ledger import PartKey
from streams.errors import StoreUnreachable
from streams.read.journal import JOURNAL_MIN_ENTRIES, Journal
from streams.read.redis_store import RedisStore
from streams.read.relay_store import Follow, RelayServer, RelayStore
from streams.read.store import MemoryStore, PartitionMissing, Position, Store

A = ("csat_responses", "emea", 60_000_000, 7)
B = ("csat_responses", "amer", 60_000_000, 7)


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayServer]:
    """A relay server on an in-process store, on a socket in `tmp_path`."""
    server = RelayServer(MemoryStore(), tmp_path / "store.sock")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(params=["memory", "redis", "relay"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "relay":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        server = RelayServer(MemoryStore(), tmp_path / "store.sock")
        await server.start()
        relayed = RelayStore(str(server.path))
        yield relayed
        await relayed.close()
        await server.stop()
        return
    redis_url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(redis_url)
    yield redis_store
    await redis_store.close()


async def test_changes_apply_and_a_zero_removes_a_part(store: Store) -> None:
    await store.publish("crm.surveys:0", Position(4, watermark_us=100), [(A, 3), (B, 1)], full=True)
    await store.publish(
        "crm.surveys:0", Position(9, watermark_us=200), [(A, 5), (B, 0)], full=False
    )
    view = (await store.read())["crm.surveys:0"]
    assert (view.offset, view.watermark_us, view.values) == (9, 200, {A: 5})


async def test_an_older_offset_never_overwrites_a_newer_one(store: Store) -> None:
    await store.publish("crm.surveys:1", Position(9, watermark_us=200), [(A, 5)], full=True)
    await store.publish("crm.surveys:1", Position(4, watermark_us=100), [(A, 3), (B, 1)], full=True)
    view = (await store.read())["crm.surveys:1"]
    assert (view.offset, view.values) == (9, {A: 5})


async def test_a_full_publish_replaces_everything(store: Store) -> None:
    await store.publish("crm.surveys:2", Position(4, watermark_us=100), [(A, 3), (B, 1)], full=True)
    await store.publish("crm.surveys:2", Position(5, watermark_us=100), [(B, 2)], full=True)
    assert (await store.read())["crm.surveys:2"].values == {B: 2}
    assert await store.ping()


async def test_changes_for_a_partition_without_an_entry_are_refused(store: Store) -> None:
    """Redis restarted empty: changes alone would read as the whole partition."""
    with pytest.raises(PartitionMissing):
        await store.publish("crm.surveys:3", Position(4, watermark_us=100), [(A, 3)], full=False)
    assert "crm.surveys:3" not in await store.names()


async def test_a_later_incarnation_replaces_a_higher_offset(store: Store) -> None:
    """The broker lost its logs: offsets start again from 0 in a later incarnation."""
    await store.publish("crm.surveys:4", Position(9, incarnation=1), [(A, 5)], full=True)
    await store.publish("crm.surveys:4", Position(-1, incarnation=2), [], full=True)
    await store.publish("crm.surveys:4", Position(0, incarnation=2), [(B, 1)], full=False)
    view = (await store.read())["crm.surveys:4"]
    assert (view.incarnation, view.offset, view.values) == (2, 0, {B: 1})
    await store.publish("crm.surveys:4", Position(12, incarnation=1), [(A, 7)], full=True)
    assert (await store.read())["crm.surveys:4"].values == {B: 1}  # a worker still on the old


async def test_changes_onto_another_incarnation_are_refused(store: Store) -> None:
    await store.publish("crm.surveys:5", Position(9, incarnation=1), [(A, 5)], full=True)
    with pytest.raises(PartitionMissing):
        await store.publish("crm.surveys:5", Position(10, incarnation=2), [(B, 1)], full=False)
    assert (await store.read())["crm.surveys:5"].values == {A: 5}


async def test_the_journal_replays_the_changes_since_a_position(store: Store) -> None:
    """Changes and whole replacements alike: a reader follows the values from a position."""
    name = "crm.surveys:7"
    await store.publish(name, Position(1, watermark_us=100), [(A, 3)], full=True)
    view = (await store.read())[name]
    followed, position = dict(view.values), view.journal.end
    await store.publish(name, Position(2, watermark_us=100), [(A, 5), (B, 1)], full=False)
    await store.publish(name, Position(3, watermark_us=100), [(B, 2)], full=True)  # A goes
    view = (await store.read())[name]
    changes = view.journal.since(position)
    assert changes is not None
    for key, old, new in changes:
        assert followed.get(key, 0) == old
        followed[key] = new
    assert {key: value for key, value in followed.items() if value} == view.values == {B: 2}


def test_a_journal_keeps_a_change_per_value_and_drops_older_ones() -> None:
    journal, values = Journal(), {A: 1}
    count = 3 * JOURNAL_MIN_ENTRIES
    for n in range(count):
        journal.append([(A, n, n + 1)], values)
    assert journal.end == count
    assert journal.since(0) is None  # dropped: a reader this far behind starts again
    kept = journal.since(journal.start)
    assert kept is not None
    assert len(list(kept)) >= JOURNAL_MIN_ENTRIES
    assert list(journal.since(count - 1) or []) == [(A, count - 1, count)]
    many: dict[PartKey, int] = {(*A[:3], n): 1 for n in range(count)}
    journal.append([(A, count, count + 1)], many)
    assert journal.since(count - JOURNAL_MIN_ENTRIES) is not None  # kept: as many as values


async def test_a_redis_reader_fetches_only_the_changes_since_its_last_read(redis_url: str) -> None:
    """Between two reads, a partition's changes come from its list, not its whole hash."""
    writer, reader = RedisStore(redis_url, "follow"), RedisStore(redis_url, "follow")
    name, many = "crm.surveys:8", [((*A[:3], n), 1) for n in range(100)]
    try:
        await writer.publish(name, Position(1), many, full=True)
        first = (await reader.read())[name]
        await writer.publish(name, Position(2), [((*A[:3], 0), 5), (B, 2)], full=False)
        await writer.publish(name, Position(3), [(B, 0)], full=False)
        view = (await reader.read())[name]
        assert view.values is first.values  # followed in place, from the three changes
        assert view.values == {**dict(many), (*A[:3], 0): 5}
        assert (view.offset, reader.followed[name][1]) == (3, 3)
    finally:
        await writer.close()
        await reader.close()


async def test_a_redis_reader_behind_the_kept_changes_reads_every_part_again(
    redis_url: str,
) -> None:
    """The list keeps at least one change per part (and JOURNAL_MIN_ENTRIES); a reader
    further behind reads the whole hash, then follows the list again."""
    writer, reader = RedisStore(redis_url, "trimmed"), RedisStore(redis_url, "trimmed")
    name, count = "crm.surveys:9", 3 * JOURNAL_MIN_ENTRIES
    try:
        await writer.publish(name, Position(0), [(A, 1), (B, 1)], full=True)
        before = (await reader.read())[name]
        await writer.publish(name, Position(1), [(A, n) for n in range(2, count)], full=False)
        assert await writer.client.llen(writer.log_prefix + name) == 2 * JOURNAL_MIN_ENTRIES
        view = (await reader.read())[name]
        assert view.values is not before.values and view.values == {A: count - 1, B: 1}
        await writer.publish(name, Position(2), [(B, 0)], full=False)
        assert (await reader.read())[name].values is view.values == {A: count - 1}
    finally:
        await writer.close()
        await reader.close()


async def test_a_relay_reader_follows_the_changes_and_the_servers_own_writes(
    relay: RelayServer,
) -> None:
    """The `up` process publishes to its store directly, its other workers through the
    relay; a relayed reader sees both, and between two reads gets only the changes."""
    writer, reader = RelayStore(str(relay.path)), RelayStore(str(relay.path))
    many = [((*A[:3], n), 1) for n in range(100)]
    try:
        await writer.publish("crm.surveys:0", Position(1), many, full=True)
        await relay.store.publish("crm.surveys:1", Position(4), [(B, 3)], full=True)
        first = await reader.read()
        assert first["crm.surveys:1"].values == {B: 3}
        await writer.publish("crm.surveys:0", Position(2), [((*A[:3], 0), 5), (B, 2)], full=False)
        await writer.publish("crm.surveys:0", Position(3), [(B, 0)], full=False)
        view = (await reader.read())["crm.surveys:0"]
        assert view.values is first["crm.surveys:0"].values  # followed in place
        assert view.values == relay.store.partitions["crm.surveys:0"].values
        assert view.values == {**dict(many), (*A[:3], 0): 5}
        assert view.offset == 3
        answer = await relay.answer(Follow(reader.known))
        assert answer.moved == {}  # nothing moved since: nothing is sent
    finally:
        await writer.close()
        await reader.close()


async def test_a_relay_reader_far_behind_or_reconnected_reads_every_part_again(
    relay: RelayServer,
) -> None:
    reader = RelayStore(str(relay.path))
    name, count = "crm.surveys:9", 3 * JOURNAL_MIN_ENTRIES
    try:
        await relay.store.publish(name, Position(0), [(A, 1), (B, 1)], full=True)
        before = (await reader.read())[name]
        await relay.store.publish(name, Position(1), [(A, n) for n in range(2, count)], False)
        view = (await reader.read())[name]
        assert view.values is not before.values and view.values == {A: count - 1, B: 1}
        reader._disconnect()  # as after a failed request
        await relay.store.publish(name, Position(2), [(B, 0)], full=False)
        again = (await reader.read())[name]
        assert again.values is not view.values and again.values == {A: count - 1}
    finally:
        await reader.close()


async def test_a_relay_that_is_gone_is_unreachable_not_an_error(tmp_path: Path) -> None:
    """Publishes fail as `StoreUnreachable` (the worker republishes later); pings say no."""
    store = RelayStore(str(tmp_path / "none.sock"))
    with pytest.raises(StoreUnreachable):
        await store.publish("crm.surveys:0", Position(1), [(A, 1)], full=True)
    assert not await store.ping()
