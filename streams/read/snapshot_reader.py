"""The KPI snapshot readers see: every partition's parts combined once, plus the lag."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from kpis import parts as p
from kpis.churn import (
    ChurnRisk,
    ChurnRules,
    at_risk_by_segment,
    merge_churn,
    risks,
    summarize_churn,
)
from kpis.events import format_time
from kpis.goals import GoalProgress, Goals, progress
from kpis.ledger import ACCEPTED_KEY, PartKey, combine
from kpis.snapshot import KpiValue, PartSums, Summary, evaluate_sums, merge, summarize, sums_of
from kpis.tracked_summary import TrackedSummary
from kpis.windows import UTC_ZONE
from streams.read.journal import Journal
from streams.read.lag_probe import LagProbe, consumer_lag
from streams.read.loop_cost import counted
from streams.read.store import PartitionView, Store


@dataclass
class Snapshot:
    """Combined state of all partitions at one read."""

    watermark_us: int | None
    lag: int | None
    accepted: int
    rejected: dict[str, int]
    kpis: list[KpiValue]
    churn_risks: list[ChurnRisk]
    sums_by_window: dict[str, PartSums] = field(repr=False)
    stale_since: float | None = None
    views: dict[str, PartitionView] = field(default_factory=dict, repr=False)
    gross_margin: float = 1.0  # what customer lifetime value was computed with
    zone: ZoneInfo = UTC_ZONE  # of the calendar windows
    processed_at: float | None = None  # wall clock of the read, in seconds
    goals: list[GoalProgress] = field(default_factory=list)

    @property
    def lag_seconds(self) -> float | None:
        """How far the watermark is behind the wall clock at the read (for live traffic: the
        age of what readers see)."""
        if self.processed_at is None or self.watermark_us is None:
            return None
        return round(self.processed_at - self.watermark_us / 1_000_000, 3)

    def to_json(self) -> dict[str, object]:
        """The snapshot JSON of INTERFACES.md."""
        document: dict[str, object] = {
            "watermark": None if self.watermark_us is None else format_time(self.watermark_us),
            "lag": self.lag,
            "events": {"accepted": self.accepted, "rejected": self.rejected},
            "kpis": [
                {"kpi": v.kpi, "window": v.window, "labels": v.labels, "value": v.value}
                for v in self.kpis
            ],
            "goals": [goal.to_json() for goal in self.goals],
            "churn_risk": {
                "at_risk_by_segment": at_risk_by_segment(self.churn_risks),
                "customers": [
                    {"customer_id": r.customer_id, "segment": r.segment, "signals": r.signals}
                    for r in self.churn_risks
                ],
            },
        }
        if self.processed_at is not None:
            document["processed_at"] = format_time(int(self.processed_at * 1_000_000))
            document["lag_seconds"] = self.lag_seconds
        if self.stale_since is not None:
            document["stale_since"] = format_time(int(self.stale_since * 1_000_000))
        return document


def event_counts(values: dict[PartKey, int]) -> tuple[int, dict[str, int]]:
    """Accepted events and rejected ones by reason, from combined parts."""
    rejected = {
        key[1]: value for key, value in values.items() if key[0] == p.EVENTS_REJECTED and value
    }
    return values.get(ACCEPTED_KEY, 0), dict(sorted(rejected.items()))


def _gauge_counts(gauges: PartSums) -> tuple[int, dict[str, int]]:
    """`event_counts` from summed point parts (both are gauges of minute 0)."""
    rejected = {reason: n for reason, n in gauges.get(p.EVENTS_REJECTED, {}).items() if n}
    return gauges.get(p.EVENTS_ACCEPTED, {}).get("", 0), dict(sorted(rejected.items()))


@dataclass
class _Followed:
    """One partition's summary, kept current from its view's journal when `tracked`."""

    serial: int  # unique per summary built: what a derived snapshot was computed from
    journal: Journal
    read: int  # the position in the journal the summary follows up to
    summary: Summary
    tracked: TrackedSummary | None  # None: a plain summary, built anew at the next read

    @property
    def revision(self) -> int:
        return 0 if self.tracked is None else self.tracked.revision


@dataclass(frozen=True)
class _Derived:
    """What a snapshot computes from the partitions' parts, and what it was computed from."""

    source: tuple[object, ...]
    watermark_us: int | None
    accepted: int
    rejected: dict[str, int]
    kpis: list[KpiValue]
    churn_risks: list[ChurnRisk]
    sums_by_window: dict[str, PartSums]


ReadResult = tuple[Snapshot, dict[str, int]]
"""A snapshot and its lag per source partition (`topic:partition`)."""


def end_offsets(read: ReadResult) -> dict[str, int]:
    """The broker's end offsets a read measured its lag against."""
    snapshot, lag = read
    views = snapshot.views
    return {name: n + (views[name].offset + 1 if name in views else 0) for name, n in lag.items()}


class SnapshotReader:
    """Reads snapshots of one store, reusing what did not change since the last read.

    Each partition is summarized once, then kept current from the changes its view's
    journal records and the windows' moves (`kpis.tracked_summary`); summaries add up
    exactly, so a read costs in proportion to what changed. Concurrent reads with the
    same arguments share one.
    """

    def __init__(self, store: Store, zone: ZoneInfo = UTC_ZONE, goals: Goals = ()) -> None:
        self.store = store
        self.zone = zone  # of the calendar windows
        self.goals = goals
        self.partitions: dict[str, _Followed] = {}
        self.derived: _Derived | None = None
        self.serials = itertools.count()
        self.running: tuple[tuple[object, ...], asyncio.Future[ReadResult]] | None = None

    async def read(
        self,
        probe: LagProbe | None,
        gross_margin: float,
        stale_since: float | None = None,
        churn_rules: ChurnRules | None = None,
    ) -> ReadResult:
        """The current snapshot and the lag per partition (empty when the broker did not answer)."""
        rules = churn_rules or ChurnRules()
        key: tuple[object, ...] = (probe, gross_margin, stale_since, rules)
        if self.running is None or self.running[0] != key or self.running[1].done():
            work = self._read(probe, gross_margin, stale_since, rules)
            self.running = key, asyncio.ensure_future(counted(work))  # cost of its reader
        return await asyncio.shield(self.running[1])

    async def _read(
        self,
        probe: LagProbe | None,
        gross_margin: float,
        stale_since: float | None,
        churn_rules: ChurnRules,
    ) -> ReadResult:
        # The broker answers while the store is read and the parts derived. Its end offsets,
        # asked after the request, against the offsets the parts were derived from: a record
        # sent before the request is either in the parts or in the lag.
        ends = None if probe is None else asyncio.ensure_future(probe.end_offsets())
        try:
            views = await self.store.read()
            read_at = time.time()
            applied = {name: view.offset + 1 for name, view in views.items()}  # as derived
            derived = self._derive(views, gross_margin, churn_rules)
        except BaseException:
            if ends is not None:
                ends.cancel()
            raise
        lag_by_partition: dict[str, int] = {}
        lag: int | None = None
        if ends is not None:
            try:
                lag_by_partition = consumer_lag(await ends, applied)
                lag = sum(lag_by_partition.values())
            except Exception:  # the broker is down: report unknown lag, keep serving
                lag = None
        snapshot = Snapshot(
            watermark_us=derived.watermark_us,
            lag=lag,
            accepted=derived.accepted,
            rejected=derived.rejected,
            kpis=derived.kpis,
            churn_risks=derived.churn_risks,
            sums_by_window=derived.sums_by_window,
            stale_since=stale_since,
            views=views,
            gross_margin=gross_margin,
            zone=self.zone,
            processed_at=read_at,
            goals=progress(self.goals, derived.kpis, derived.watermark_us, self.zone),
        )
        return snapshot, lag_by_partition

    def _derive(
        self, views: dict[str, PartitionView], gross_margin: float, churn_rules: ChurnRules
    ) -> _Derived:
        watermarks = [view.watermark_us for view in views.values() if view.watermark_us is not None]
        watermark = max(watermarks) if watermarks else None
        self.partitions = {
            name: self._summarized(name, view, watermark, churn_rules)
            for name, view in views.items()
        }
        followed = self.partitions.values()
        revisions = ((part.serial, part.revision) for part in followed)
        source = (watermark, gross_margin, churn_rules, *revisions)
        if self.derived is not None and self.derived.source == source:
            return self.derived
        summaries = [part.summary for part in followed]
        summary = merge(summaries)
        churn = merge_churn([each.churn for each in summaries if each.churn])
        if churn is None:  # not additive: combine the parts themselves
            values = combine(view.values for view in views.values())
            churn = summarize_churn(values, watermark, churn_rules)
        sums_by_window = sums_of(summary, watermark, self.zone)
        accepted, rejected = _gauge_counts(summary.gauges)
        self.derived = _Derived(
            source,
            watermark,
            accepted,
            rejected,
            evaluate_sums(sums_by_window, gross_margin),
            risks(churn, churn_rules),
            sums_by_window,
        )
        return self.derived

    def _summarized(
        self, name: str, view: PartitionView, watermark: int | None, churn_rules: ChurnRules
    ) -> _Followed:
        known = self.partitions.get(name)
        journal = view.journal
        if known is None:
            return self._tracked(view, watermark, churn_rules)
        changes = journal.since(known.read) if known.journal is journal else None
        if changes is None:
            # It changed faster than the journal keeps since the last read (a catch-up):
            # a plain summary costs half a tracked one, which could not follow it either.
            summary = summarize(view.values, watermark, churn_rules, self.zone)
            return _Followed(next(self.serials), journal, journal.end, summary, None)
        if known.tracked is None or known.tracked.churn_rules != churn_rules:
            return self._tracked(view, watermark, churn_rules)
        known.tracked.apply(changes, view.values)
        known.read = journal.end
        known.tracked.move(watermark)
        return known

    def _tracked(
        self, view: PartitionView, watermark: int | None, churn_rules: ChurnRules
    ) -> _Followed:
        """A summary of the view's partition that follows its journal from here on."""
        tracked = TrackedSummary(view.values, watermark, churn_rules, self.zone)
        journal = view.journal
        return _Followed(next(self.serials), journal, journal.end, tracked.summary, tracked)


async def read_snapshot(
    store: Store,
    probe: LagProbe | None,
    gross_margin: float,
    stale_since: float | None = None,
    churn_rules: ChurnRules | None = None,
) -> ReadResult:
    """The current snapshot and the lag per partition (empty when the broker did not answer)."""
    return await SnapshotReader(store).read(probe, gross_margin, stale_since, churn_rules)
