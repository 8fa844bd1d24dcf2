"""Serving the last snapshot, marked stale, while the store is unreachable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from redis.exceptions import RedisError

from kpis.churn import ChurnRules
from streams.errors import StoreUnreachable
from streams.read.lag_probe import LagProbe
from streams.read.snapshot_reader import ReadResult, SnapshotReader


class LastGoodSnapshot:
    """Reads snapshots; while the store is down, answers with the last one read."""

    def __init__(
        self,
        reader: SnapshotReader,
        probe: LagProbe,
        gross_margin: float,
        churn_rules: ChurnRules,
        stale_since: Callable[[], float | None],
    ) -> None:
        self.reader = reader
        self.probe = probe
        self.gross_margin = gross_margin
        self.churn_rules = churn_rules
        self.stale_since = stale_since  # since when the store misses the worker's changes
        self.last: ReadResult | None = None
        self.last_at = 0.0

    async def read(self) -> ReadResult:
        """The current snapshot; while the store is unreachable, the last one, marked stale."""
        try:
            latest = await self.reader.read(
                self.probe, self.gross_margin, self.stale_since(), self.churn_rules
            )
        except (RedisError, StoreUnreachable):  # Redis, or the store of `crmkpi up`
            if self.last is None:
                raise
            snapshot, lag = self.last
            stale_since = snapshot.stale_since or self.last_at
            return replace(snapshot, stale_since=stale_since), lag
        self.last, self.last_at = latest, time.time()
        return latest
