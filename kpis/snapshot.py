"""From combined parts and the watermark to KPI values, per window and dimension."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from kpis import formulas as f
from kpis import parts as p
from kpis.catalogue import CATALOGUE, Kpi
from kpis.churn import ChurnRules, ChurnSummary, is_customer_part
from kpis.ledger import POINT, PartKey
from kpis.windows import MINUTE_US, MONTH, NOW, UTC_ZONE, WINDOWS

PartSums = dict[str, dict[str, int]]  # part -> dimension value -> sum
RETENTION_COHORTS = (p.CUSTOMERS_ACQUIRED, p.CUSTOMERS_CHURNED)


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
class Summary:
    """Parts summed for every window at one watermark: of one partition, or merged.

    Summaries of several partitions add up to the summary of their combined
    parts, so a partition that did not change need not be read again.
    """

    gauges: PartSums = field(default_factory=dict)
    cohorts: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    windowed: dict[str, PartSums] = field(default_factory=dict)
    churn: ChurnSummary | None = None  # of the parts keyed by customer, when asked for


def window_bounds(
    watermark_us: int | None, zone: ZoneInfo = UTC_ZONE
) -> tuple[tuple[int, int], ...] | None:
    """Each window's first and last bucket: the summary of some parts depends on the
    watermark only so."""
    if watermark_us is None:
        return None
    return tuple(
        (window.first_bucket(watermark_us, zone), window.last_bucket(watermark_us, zone))
        for window in WINDOWS
    )


def summarize(
    values: dict[PartKey, int],
    watermark_us: int | None,
    churn_rules: ChurnRules | None = None,
    zone: ZoneInfo = UTC_ZONE,
) -> Summary:
    """One pass over `values`: point parts, every window's sums and, given `churn_rules`,
    the churn summary of the parts keyed by customer."""
    churn = None if churn_rules is None else ChurnSummary.empty(watermark_us, churn_rules)
    summary = Summary(windowed={window.name: {} for window in WINDOWS}, churn=churn)
    # Per bucket size, each window's first and last bucket and sums.
    bounds: dict[int, list[tuple[int, int, PartSums]]] = {}
    for window, (first, last) in zip(
        WINDOWS, window_bounds(watermark_us, zone) or (), strict=False
    ):
        bounds.setdefault(window.bucket_us, []).append((first, last, summary.windowed[window.name]))
    gauges, cohorts = summary.gauges, summary.cohorts
    per_customer: dict[str, bool] = {}  # part name -> is_customer_part (few names, many keys)
    for (part, value_of_dimension, x, y), amount in values.items():
        by_customer = per_customer.get(part)
        if by_customer is None:
            by_customer = per_customer[part] = is_customer_part(part)
        if by_customer:
            if churn is not None:
                churn.add(part, value_of_dimension, x, y, amount)
            continue
        if x == POINT:
            if part in RETENTION_COHORTS:
                by_minute = cohorts.setdefault(part, {}).setdefault(value_of_dimension, {})
                by_minute[y] = by_minute.get(y, 0) + amount
            else:
                gauge = gauges.setdefault(part, {})
                gauge[value_of_dimension] = gauge.get(value_of_dimension, 0) + amount
            continue
        for first, last, sums in bounds.get(x, ()):
            if y < first or y > last:
                continue
            by_value = sums.get(part)
            if by_value is None:
                by_value = sums[part] = {}
            by_value[value_of_dimension] = by_value.get(value_of_dimension, 0) + amount
    return summary


def _add_sums(total: PartSums, sums: PartSums) -> None:
    for part, by_value in sums.items():
        into = total.get(part)
        if into is None:
            total[part] = dict(by_value)
            continue
        for value_of_dimension, amount in by_value.items():
            into[value_of_dimension] = into.get(value_of_dimension, 0) + amount


def merge(summaries: Iterable[Summary]) -> Summary:
    """The summary of several partitions' combined parts (customer parts aside)."""
    total = Summary(windowed={window.name: {} for window in WINDOWS})
    for summary in summaries:
        _add_sums(total.gauges, summary.gauges)
        for part, by_value in summary.cohorts.items():
            into = total.cohorts.setdefault(part, {})
            for value_of_dimension, by_minute in by_value.items():
                minutes = into.setdefault(value_of_dimension, {})
                for minute, amount in by_minute.items():
                    minutes[minute] = minutes.get(minute, 0) + amount
        for name, sums in summary.windowed.items():
            _add_sums(total.windowed[name], sums)
    return total


def _retention_sums(
    cohorts: dict[str, dict[str, dict[int, int]]], start_minute: int, end_minute: int | None
) -> PartSums:
    churned = cohorts.get(p.CUSTOMERS_CHURNED, {})
    at_start: dict[str, int] = {}
    lost: dict[str, int] = {}
    for segment, counts in cohorts.get(p.CUSTOMERS_ACQUIRED, {}).items():
        at_start[segment], lost[segment] = f.retention_counts(
            counts, churned.get(segment, {}), start_minute, end_minute
        )
    return {p.CUSTOMERS_AT_START: at_start, p.CUSTOMERS_CHURNED_IN_WINDOW: lost}


def sums_of(
    summary: Summary, watermark_us: int | None, zone: ZoneInfo = UTC_ZONE
) -> dict[str, PartSums]:
    """The parts summed over each window (and `now`), per dimension value."""
    result: dict[str, PartSums] = {NOW: summary.gauges}
    for window in WINDOWS:
        sums = dict(summary.gauges)
        if watermark_us is not None:
            sums.update(summary.windowed[window.name])
            start_minute = window.start_us(watermark_us, zone) // MINUTE_US
            end_us = window.end_us(watermark_us, zone)
            end_minute = None if end_us is None else end_us // MINUTE_US
            sums.update(_retention_sums(summary.cohorts, start_minute, end_minute))
        result[window.name] = sums
    return result


def window_sums(
    values: dict[PartKey, int], watermark_us: int | None, zone: ZoneInfo = UTC_ZONE
) -> dict[str, PartSums]:
    """The parts summed over each window (and `now`), per dimension value.

    Parts keyed by customer (churn signals) are left to `kpis.churn`.
    """
    return sums_of(summarize(values, watermark_us, zone=zone), watermark_us, zone)


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
    zone: ZoneInfo = UTC_ZONE,
) -> list[KpiValue]:
    """Every KPI of the catalogue in each of its windows, overall and per dimension value."""
    return evaluate_sums(window_sums(values, watermark_us, zone), gross_margin, catalogue)


def evaluate_sums(
    sums_by_window: dict[str, PartSums],
    gross_margin: float = 1.0,
    catalogue: tuple[Kpi, ...] = CATALOGUE,
) -> list[KpiValue]:
    """`evaluate` from parts already summed per window."""
    month_sums = sums_by_window[MONTH]
    series: list[KpiValue] = []
    for kpi in catalogue:
        for window in kpi.windows:
            sums = sums_by_window[window]
            overall = Scope(sums, None, month_sums, gross_margin)
            series.append(KpiValue(kpi.name, window, {}, kpi.formula.evaluate(overall)))
            for value_of_dimension in _dimension_values(kpi, sums):
                scope = Scope(sums, value_of_dimension, month_sums, gross_margin)
                labels = {kpi.dimension: value_of_dimension}
                series.append(KpiValue(kpi.name, window, labels, kpi.formula.evaluate(scope)))
    return series
