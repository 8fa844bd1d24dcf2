"""Keeps the garbage collector's full passes off the worker's long-lived state.

A worker holds millions of long-lived objects (entities, parts, ids). CPython's full
collection visits every one of them; on the latency benchmark's state a pass took
150-300 ms, came every few seconds at 20,000 events/s and found nothing to free (the
state's objects are freed by their reference counts), so events waited behind it.
Every tick the young generations are collected and what survives is frozen
(`gc.freeze`): later passes, full ones included, visit only what came since. Every
`THAW_SECONDS` everything is thawed and collected once, so that reference cycles that
died while frozen are freed too: one full pass an hour instead of one every few seconds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

THAW_SECONDS = 3600.0  # between two full collections of everything


class GcFreezer:
    """Freezes the survivors of the young generations at each `tick`; thaws and collects
    everything every `thaw_seconds`."""

    def __init__(
        self, thaw_seconds: float = THAW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.thaw_seconds = thaw_seconds
        self.clock = clock
        self.thawed_at = clock()

    def tick(self) -> None:
        """Freeze what survives a collection of the young generations, or, once
        `thaw_seconds` passed since the last thaw, collect everything first."""
        now = self.clock()
        if now - self.thawed_at >= self.thaw_seconds:
            gc.unfreeze()
            gc.collect()
            self.thawed_at = now
        else:
            gc.collect(1)  # young garbage, cycles included, is freed, not frozen
        gc.freeze()
