"""The worker's long-lived objects are frozen out of collections; garbage is still freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.worker.gc_freezer import GcFreezer


class Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.collect()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_tick_frees_young_cycles_and_freezes_what_survives() -> None:
    freezer = GcFreezer(thaw_seconds=3600.0, clock=Clock())
    kept = Node()
    dropped = weakref.ref(Node())
    freezer.tick()
    assert dropped() is None  # garbage of the young generations is collected, not frozen
    assert gc.get_freeze_count() > 0
    assert kept.me is kept


def test_cycles_that_die_while_frozen_are_freed_at_the_next_thaw() -> None:
    clock = Clock()
    freezer = GcFreezer(thaw_seconds=3600.0, clock=clock)
    node = Node()
    freezer.tick()  # frozen while alive
    died = weakref.ref(node)
    del node
    clock.now = 3599.0
    freezer.tick()
    assert died() is not None  # frozen: no collection visits it before the thaw
    clock.now = 3600.0
    freezer.tick()
    assert died() is None
