"""The review of a period from a `/kpis` snapshot document: pure data, no I/O.

A review is sent at the start of a week or month and covers the period that just ended,
read from the sliding windows that end at the watermark T: `week` is `7d` against
`prev_7d`, `month` is `30d` against `prev_30d`. The calendar window `mtd` would hold only
a few hours at a review sent on the 1st, so the month is the last 30 days. A KPI without
the period's window (`now` gauges, customer lifetime value over `30d`) shows its one
window's value and no previous value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kpis.catalogue import CATALOGUE, HIGHER, Kpi

PERIOD_WINDOWS = {"week": ("7d", "prev_7d"), "month": ("30d", "prev_30d")}
"""Each review period: its window and the previous period's window, as named in `/kpis`."""
PERIODS = tuple(PERIOD_WINDOWS)
MOVERS_PER_KPI = 3
PERIOD_RANGE = {"week": "7d", "month": "30d"}
"""The PromQL range of each period, for the alerts that fired during it."""
PERIOD_DAYS = {"week": 7, "month": 30}
"""The days of each period: the points of its sparklines."""

Labels = tuple[tuple[str, str], ...]
SeriesValues = dict[tuple[str, str, Labels], float | None]


class ReviewError(ValueError):
    """A snapshot document that cannot be reviewed; the message is one line."""


@dataclass(frozen=True)
class Change:
    """A value against the previous period's."""

    value: float | None
    previous: float | None

    @property
    def delta(self) -> float | None:
        """value - previous; None when either is unknown."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def relative(self) -> float | None:
        """delta / |previous|; None when undefined (no previous value, or 0)."""
        delta = self.delta
        if delta is None or not self.previous:
            return None
        return delta / abs(self.previous)


@dataclass(frozen=True)
class Mover:
    """One dimension value of a KPI and how it moved."""

    label: str  # the dimension value: a team, a channel, a rep
    change: Change


@dataclass(frozen=True)
class KpiReview:
    """One KPI in the review: its overall value, change and top movers."""

    kpi: Kpi
    window: str  # where the value comes from: the period's window, or the KPI's only one
    change: Change
    movers: tuple[Mover, ...]

    @property
    def improved(self) -> bool | None:
        """Whether it moved the way it improves; None when unchanged or unknown."""
        delta = self.change.delta
        if not delta:
            return None
        return (delta > 0) == (self.kpi.better == HIGHER)


@dataclass(frozen=True)
class GoalReview:
    """One goal of the snapshot: attainment and, for counts and sums over a calendar
    period, pace."""

    kpi: str
    window: str
    labels: dict[str, str]
    target: float
    value: float | None
    attainment: float | None
    pace: float | None


@dataclass(frozen=True)
class FiredAlert:
    """An alert that fired during the period (Prometheus' `ALERTS`), by its labels."""

    alertname: str
    severity: str
    labels: dict[str, str]  # the others: kpi, window, the dimension value


@dataclass(frozen=True)
class Review:
    """The review of one period."""

    period: str
    window: str
    previous_window: str
    watermark: str | None
    kpis: tuple[KpiReview, ...]
    goals: tuple[GoalReview, ...]
    at_risk_by_segment: dict[str, int]
    alerts: tuple[FiredAlert, ...] | None = None  # None: no Prometheus to ask
    at_risk_ids: dict[str, tuple[str, ...]] | None = None  # per segment; None: /kpis lists none
    customer_ids: bool = False  # whether renderings show the ids: for internal channels only
    trends: dict[str, tuple[float | None, ...]] = field(default_factory=dict)
    """Per KPI, its daily values over the period from Prometheus, oldest first."""


def with_customer_ids(review: Review, shown: bool) -> Review:
    """The review as sent to a channel: ids shown only when it is an internal one."""
    return replace(review, customer_ids=shown)


def _at_risk_ids(churn: Mapping[str, Any]) -> dict[str, tuple[str, ...]] | None:
    """The ids of the customers at risk per segment, sorted; None when /kpis lists none."""
    customers = churn.get("customers")
    if customers is None:
        return None
    ids: dict[str, list[str]] = {}
    try:
        for customer in customers:
            ids.setdefault(str(customer["segment"]), []).append(str(customer["customer_id"]))
    except (KeyError, TypeError) as error:
        raise ReviewError(f"not a /kpis snapshot: a customer at risk lacks {error}") from None
    return {segment: tuple(sorted(found)) for segment, found in sorted(ids.items())}


def _series(document: Mapping[str, Any]) -> SeriesValues:
    try:
        return {
            (s["kpi"], s["window"], tuple(sorted(s["labels"].items()))): s["value"]
            for s in document["kpis"]
        }
    except (KeyError, TypeError, AttributeError) as error:
        raise ReviewError(f"not a /kpis snapshot: a series lacks {error}") from None


def _change(kpi: Kpi, series: SeriesValues, windows: tuple[str, str], labels: Labels) -> Change:
    """The series' value in the window and the previous one; for a count or sum, a series
    absent from a window counts 0 there (the snapshot has series only after an event)."""
    missing = 0.0 if kpi.additive and series else None
    window, previous = windows
    return Change(
        series.get((kpi.name, window, labels), missing),
        series.get((kpi.name, previous, labels), missing),
    )


def _movers(kpi: Kpi, series: SeriesValues, windows: tuple[str, str]) -> tuple[Mover, ...]:
    """The dimension values whose value moved most (by |change|), largest first."""
    labels = sorted(
        {key[2] for key in series if key[0] == kpi.name and key[1] in windows and key[2]}
    )
    moved = [Mover(dict(one)[kpi.dimension], _change(kpi, series, windows, one)) for one in labels]
    known = [mover for mover in moved if mover.change.delta]
    known.sort(key=lambda mover: (-abs(mover.change.delta or 0.0), mover.label))
    return tuple(known[:MOVERS_PER_KPI])


def _kpi_review(kpi: Kpi, series: SeriesValues, windows: tuple[str, str]) -> KpiReview:
    if windows[0] in kpi.windows:
        return KpiReview(
            kpi, windows[0], _change(kpi, series, windows, ()), _movers(kpi, series, windows)
        )
    window = kpi.windows[0]
    return KpiReview(kpi, window, Change(series.get((kpi.name, window, ())), None), ())


def _goal(entry: Mapping[str, Any]) -> GoalReview:
    return GoalReview(
        entry["kpi"],
        entry["window"],
        dict(entry.get("labels") or {}),
        entry["target"],
        entry.get("value"),
        entry.get("attainment"),
        entry.get("pace"),
    )


def build_review(
    document: Mapping[str, Any],
    period: str,
    catalogue: tuple[Kpi, ...] = CATALOGUE,
    alerts: tuple[FiredAlert, ...] | None = None,
) -> Review:
    """The review of `period` (`week`, `month`) from a `/kpis` snapshot document, with the
    alerts that fired meanwhile when Prometheus was asked."""
    if period not in PERIOD_WINDOWS:
        raise ReviewError(f"unknown period {period!r}: one of {', '.join(PERIODS)}")
    windows = PERIOD_WINDOWS[period]
    series = _series(document)
    try:
        goals = tuple(_goal(entry) for entry in document.get("goals") or ())
    except (KeyError, TypeError, AttributeError) as error:
        raise ReviewError(f"not a /kpis snapshot: a goal lacks {error}") from None
    churn = document.get("churn_risk") or {}
    at_risk = churn.get("at_risk_by_segment") or {}
    return Review(
        period,
        windows[0],
        windows[1],
        document.get("watermark"),
        tuple(_kpi_review(kpi, series, windows) for kpi in catalogue),
        goals,
        {str(segment): int(count) for segment, count in sorted(at_risk.items())},
        alerts,
        _at_risk_ids(churn),
    )
