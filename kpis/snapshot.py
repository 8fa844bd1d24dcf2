"""From combined parts and the watermark to KPI values, per window and dimension."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kpis import formulas as f
from kpis import parts as p
from kpis.catalogue import CATALOGUE, Kpi
from kpis.ledger import POINT, PartKey
from kpis.windows import MINUTE_US, NOW, WINDOWS, Window

PartSums = dict[str, dict[str, int]]  # part -> dimension value -> sum
RETENTION_COHORTS = (p.CUSTOMERS_ACQUIRED, p.CHURNED_BY_ACQUISITION, p.CHURNED_BY_LATER_OF)


@dataclass(frozen=True)
class KpiValue:
    """One series of the snapshot: a KPI in a window, overall (no labels) or for one value."""

    kpi: str
    window: str
    labels: dict[str, str]
    value: float | None


@dataclass
class Scope:
    """The parts of one window for one dimension value (`None`: all values)."""

    sums: PartSums
    dimension_value: str | None
    month_sums: PartSums
    gross_margin: float = 1.0

    def get(self, part: str) -> int:
        by_value = self.sums.get(part)
        if not by_value:
            return 0
        if self.dimension_value is None:
            return sum(by_value.values())
        return by_value.get(self.dimension_value, 0)

    def month(self) -> Scope:
        return Scope(self.month_sums, self.dimension_value, self.month_sums, self.gross_margin)


@dataclass
class _Points:
    gauges: PartSums = field(default_factory=dict)
    cohorts: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)


def _split_points(values: dict[PartKey, int]) -> _Points:
    points = _Points()
    for (part, value_of_dimension, x, y), amount in values.items():
        if x != POINT:
            continue
        if part in RETENTION_COHORTS:
            by_minute = points.cohorts.setdefault(part, {}).setdefault(value_of_dimension, {})
            by_minute[y] = by_minute.get(y, 0) + amount
        else:
            by_value = points.gauges.setdefault(part, {})
            by_value[value_of_dimension] = by_value.get(value_of_dimension, 0) + amount
    return points


def _retention_sums(points: _Points, start_minute: int) -> PartSums:
    acquired = points.cohorts.get(p.CUSTOMERS_ACQUIRED, {})
    by_acquisition = points.cohorts.get(p.CHURNED_BY_ACQUISITION, {})
    by_later_of = points.cohorts.get(p.CHURNED_BY_LATER_OF, {})
    at_start: dict[str, int] = {}
    churned: dict[str, int] = {}
    for segment, counts in acquired.items():
        at_start[segment], churned[segment] = f.retention_counts(
            counts, by_acquisition.get(segment, {}), by_later_of.get(segment, {}), start_minute
        )
    return {f.CUSTOMERS_AT_START: at_start, f.CUSTOMERS_CHURNED_IN_WINDOW: churned}


def _windowed_sums(values: dict[PartKey, int], window: Window, watermark_us: int) -> PartSums:
    first = window.first_bucket(watermark_us)
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for (part, value_of_dimension, x, y), amount in values.items():
        if x == window.bucket_us and y >= first:
            by_value = sums[part]
            by_value[value_of_dimension] = by_value.get(value_of_dimension, 0) + amount
    return dict(sums)


def window_sums(values: dict[PartKey, int], watermark_us: int | None) -> dict[str, PartSums]:
    """The parts summed over each window (and `now`), per dimension value."""
    points = _split_points(values)
    result: dict[str, PartSums] = {NOW: points.gauges}
    for window in WINDOWS:
        sums = dict(points.gauges)
        if watermark_us is not None:
            sums.update(_windowed_sums(values, window, watermark_us))
            start_minute = window.start_us(watermark_us) // MINUTE_US
            sums.update(_retention_sums(points, start_minute))
        result[window.name] = sums
    return result


def _dimension_values(kpi: Kpi, sums: PartSums) -> list[str]:
    seen: set[str] = set()
    for part in kpi.parts:
        seen.update(sums.get(part, {}))
    seen.discard("")
    return sorted(seen)


def evaluate(
    values: dict[PartKey, int],
    watermark_us: int | None,
    gross_margin: float = 1.0,
    catalogue: tuple[Kpi, ...] = CATALOGUE,
) -> list[KpiValue]:
    """Every KPI of the catalogue in each of its windows, overall and per dimension value."""
    return evaluate_sums(window_sums(values, watermark_us), gross_margin, catalogue)


def evaluate_sums(
    sums_by_window: dict[str, PartSums],
    gross_margin: float = 1.0,
    catalogue: tuple[Kpi, ...] = CATALOGUE,
) -> list[KpiValue]:
    """`evaluate` from parts already summed per window."""
    month_sums = sums_by_window["30d"]
    series: list[KpiValue] = []
    for kpi in catalogue:
        for window in kpi.windows:
            sums = sums_by_window[window]
            overall = Scope(sums, None, month_sums, gross_margin)
            series.append(KpiValue(kpi.name, window, {}, kpi.formula(overall)))
            for value_of_dimension in _dimension_values(kpi, sums):
                scope = Scope(sums, value_of_dimension, month_sums, gross_margin)
                labels = {kpi.dimension: value_of_dimension}
                series.append(KpiValue(kpi.name, window, labels, kpi.formula(scope)))
    return series
