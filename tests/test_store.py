"""The readers' store: in-process and Redis behave the same, and only move forward."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from streams.store import MemoryStore, PartitionMissing, RedisStore, Store

A = ("csat_responses", "emea", 60_000_000, 7)
B = ("csat_responses", "amer", 60_000_000, 7)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    redis_store = RedisStore(redis_url)
    yield redis_store
    await redis_store.close()


async def test_changes_apply_and_a_zero_removes_a_part(store: Store) -> None:
    await store.publish("crm.surveys:0", 4, 100, [(A, 3), (B, 1)], full=True)
    await store.publish("crm.surveys:0", 9, 200, [(A, 5), (B, 0)], full=False)
    view = (await store.read())["crm.surveys:0"]
    assert (view.offset, view.watermark_us, view.values) == (9, 200, {A: 5})


async def test_an_older_offset_never_overwrites_a_newer_one(store: Store) -> None:
    await store.publish("crm.surveys:1", 9, 200, [(A, 5)], full=True)
    await store.publish("crm.surveys:1", 4, 100, [(A, 3), (B, 1)], full=True)
    view = (await store.read())["crm.surveys:1"]
    assert (view.offset, view.values) == (9, {A: 5})


async def test_a_full_publish_replaces_everything(store: Store) -> None:
    await store.publish("crm.surveys:2", 4, 100, [(A, 3), (B, 1)], full=True)
    await store.publish("crm.surveys:2", 5, 100, [(B, 2)], full=True)
    assert (await store.read())["crm.surveys:2"].values == {B: 2}
    assert await store.ping()


async def test_changes_for_a_partition_without_an_entry_are_refused(store: Store) -> None:
    """Redis restarted empty: changes alone would read as the whole partition."""
    with pytest.raises(PartitionMissing):
        await store.publish("crm.surveys:3", 4, 100, [(A, 3)], full=False)
    assert "crm.surveys:3" not in await store.names()
