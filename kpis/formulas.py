"""KPI formulas of KPIS.md: each evaluates in Python and writes its PromQL, from one definition.

`evaluate` reads integer parts through a `Scope` (one window and one dimension
value, or all values) and divides only at the end, so a ratio is the correctly
rounded quotient of exact integers. `promql` writes the same formula over the
sums of the exported part families, for the recording rule
`level:crmkpi_<kpi>:<operation>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

from kpis import metric_names as m
from kpis import parts as p
from kpis.ledger import minute_pair
from kpis.promql import Sums, in_base_units, scaled
from kpis.windows import MONTH, NOW

MICRO = 1_000_000


class Scope(Protocol):
    """The parts of one window, for one dimension value or summed over all."""

    gross_margin: float

    def get(self, part: str) -> int: ...

    def month(self) -> Scope:
        """The same dimension scope in the 30d window (CLV divides by the 30d churn rate)."""
        ...


def _quotient(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class Formula(ABC):
    """How one KPI is computed from its parts."""

    operation: ClassVar[str]  # the recording rule's `:operation` suffix
    reads_other_rules: ClassVar[bool] = False  # its rule must follow theirs in the group

    @property
    @abstractmethod
    def parts(self) -> tuple[str, ...]:
        """The parts the formula reads."""

    @property
    def point_window(self) -> str | None:
        """The one window a formula over current-state parts is recorded in; None: each."""
        return None

    @abstractmethod
    def evaluate(self, scope: Scope) -> float | None:
        """The value from the scope's parts; None where it is undefined (a zero denominator)."""

    @abstractmethod
    def promql(self, sums: Sums) -> str:
        """The same value in PromQL; no sample where it is undefined."""


@dataclass(frozen=True)
class Total(Formula):
    """A sum of one part, in units of `scale`."""

    part: str
    scale: int = 1
    operation: ClassVar[str] = "sum"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.part,)

    @property
    def point_window(self) -> str | None:
        return NOW if self.part in p.CURRENT_STATE_PARTS else None

    def evaluate(self, scope: Scope) -> float | None:
        return scope.get(self.part) / self.scale

    def promql(self, sums: Sums) -> str:
        return scaled(sums(self.part), in_base_units(self.part, self.scale))


@dataclass(frozen=True)
class Ratio(Formula):
    """`numerator / (denominator * scale)`; null on a zero denominator."""

    numerator: str
    denominator: str
    scale: int = 1
    operation: ClassVar[str] = "ratio"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    def evaluate(self, scope: Scope) -> float | None:
        return _quotient(scope.get(self.numerator), scope.get(self.denominator) * self.scale)

    def promql(self, sums: Sums) -> str:
        divisor = in_base_units(self.numerator, self.scale)
        return scaled(sums.ratio(self.numerator, self.denominator), divisor)


@dataclass(frozen=True)
class Mean(Ratio):
    """A total over a count (a mean duration), in units of `scale`."""

    operation: ClassVar[str] = "mean"


def quantile_name(quantile: float) -> str:
    """`p90` for 0.9: the recording rule's operation and the alert's word for a quantile."""
    return f"p{round(quantile * 100)}"


@dataclass(frozen=True)
class HistogramMean(Mean):
    """A mean whose distribution is exported as a histogram of `buckets`: quantiles too."""

    buckets: str = ""
    quantiles: tuple[float, ...] = ()

    def quantile_promql(self, quantile: float, sums: Sums) -> str:
        """The `quantile` of the distribution, in units of `scale`."""
        by = ", ".join((*sums.by[:1], "le", *sums.by[1:]))
        divisor = in_base_units(self.numerator, self.scale)
        return scaled(f"histogram_quantile({quantile}, sum by ({by}) ({self.buckets}))", divisor)


@dataclass(frozen=True)
class Share(Formula):
    """`part / (part + rest)`, e.g. won / (won + lost)."""

    part: str
    rest: str
    operation: ClassVar[str] = "ratio"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.part, self.rest)

    def evaluate(self, scope: Scope) -> float | None:
        part = scope.get(self.part)
        return _quotient(part, part + scope.get(self.rest))

    def promql(self, sums: Sums) -> str:
        part, rest = sums.filled(self.part, self.rest), sums.filled(self.rest, self.part)
        return f"{part} / ({part} + {rest} > 0)"


@dataclass(frozen=True)
class Retention(Formula):
    """`(base - lost) / base`: the share of `base` not lost."""

    lost: str
    base: str
    operation: ClassVar[str] = "ratio"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.base, self.lost)

    def evaluate(self, scope: Scope) -> float | None:
        base = scope.get(self.base)
        return _quotient(base - scope.get(self.lost), base)

    def promql(self, sums: Sums) -> str:
        return f"1 - {sums.ratio(self.lost, self.base)}"


@dataclass(frozen=True)
class ReturnOnSpend(Formula):
    """`(gain - spend) / spend`."""

    gain: str
    spend: str
    operation: ClassVar[str] = "roi"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.gain, self.spend)

    def evaluate(self, scope: Scope) -> float | None:
        spend = scope.get(self.spend)
        return _quotient(scope.get(self.gain) - spend, spend)

    def promql(self, sums: Sums) -> str:
        spend = sums(self.spend)
        return f"({sums.filled(self.gain, self.spend)} - {spend}) / ({spend} > 0)"


@dataclass(frozen=True)
class NetScore(Formula):
    """`100 * (share of promoters - share of detractors)` of the responses."""

    promoters: str
    detractors: str
    responses: str
    operation: ClassVar[str] = "score"

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.promoters, self.detractors, self.responses)

    def evaluate(self, scope: Scope) -> float | None:
        net = scope.get(self.promoters) - scope.get(self.detractors)
        return _quotient(100 * net, scope.get(self.responses))

    def promql(self, sums: Sums) -> str:
        promoters = sums.filled(self.promoters, self.responses)
        detractors = sums.filled(self.detractors, self.responses)
        return f"100 * ({promoters} - {detractors}) / ({sums(self.responses)} > 0)"


@dataclass(frozen=True)
class LifetimeValue(Formula):
    """`mean revenue per customer * gross margin / churn rate (30d)`; null on no churn.

    PromQL reads the 30d churn rate the `churn_kpi` rule records in the same evaluation
    (its rule comes first in the group), and the margin the reporting worker exports: the
    margin is configuration of the running monitor, never baked into generated rules.
    """

    revenue: str
    customers: str
    churn: Ratio
    churn_kpi: str
    scale: int = MICRO
    operation: ClassVar[str] = "clv"
    reads_other_rules: ClassVar[bool] = True

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.revenue, self.customers, *self.churn.parts)

    @property
    def point_window(self) -> str | None:
        return MONTH

    def evaluate(self, scope: Scope) -> float | None:
        customers = scope.get(self.customers)
        month = scope.month()
        churned, at_start = month.get(self.churn.numerator), month.get(self.churn.denominator)
        if not customers or not churned:
            return None
        # (revenue / customers) / (churned / at_start), kept as one exact integer quotient.
        per_customer_over_churn = (scope.get(self.revenue) * at_start) / (
            customers * self.scale * churned
        )
        return per_customer_over_churn * scope.gross_margin

    def promql(self, sums: Sums) -> str:
        churn = f'{sums.recorded(self.churn_kpi, self.churn.operation)}{{window="{MONTH}"}}'
        revenue = scaled(sums(self.revenue), in_base_units(self.revenue, self.scale))
        per_customer = f"{revenue} / ({sums(self.customers)} > 0)"
        on = f"on ({', '.join(sums.by)})"
        margin = f"on () group_left () max({m.GROSS_MARGIN})"
        return f"{per_customer} / {on} ({churn} > 0) * {margin}"


def retention_counts(
    acquired: dict[int, int], churned: dict[int, int], start_minute: int, end_minute: int | None
) -> tuple[int, int]:
    """S and L of KPIS.md #6 for a window from `start_minute` to `end_minute` (None: to T).

    S = acquired before the start and not churned before it; L = those of S
    churned in the window. `acquired` counts customers by acquisition minute,
    `churned` the churned ones by `pair_key(acquisition minute, churn minute)`.
    """
    gone = lost = 0
    for key, count in churned.items():
        acquired_minute, churned_minute = minute_pair(key)
        if acquired_minute >= start_minute:
            continue
        if churned_minute < start_minute:
            gone += count
        elif end_minute is None or churned_minute < end_minute:
            lost += count
    before = sum(count for minute, count in acquired.items() if minute < start_minute)
    return before - gone, lost
