"""KPI values from summed parts: one small function per KPI formula of KPIS.md.

Every formula reads integer parts through a `Scope` (one window and one
dimension value, or all values) and divides only at the end, so a ratio is
the correctly rounded quotient of exact integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kpis import parts as p
from kpis.windows import HOUR_US

MICRO = 1_000_000
DAY_US = 86_400_000_000

# Pseudo-parts of KPIS.md #6 and #9, derived per window from the retention cohorts.
CUSTOMERS_AT_START = "customers_at_window_start"
CUSTOMERS_CHURNED_IN_WINDOW = "customers_churned_in_window"


class Scope(Protocol):
    """The parts of one window, for one dimension value or summed over all."""

    gross_margin: float

    def get(self, part: str) -> int: ...

    def month(self) -> Scope:
        """The same dimension scope in the 30d window (CLV divides by the 30d churn rate)."""
        ...


Formula = Callable[[Scope], float | None]


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def total(part: str, scale: int = 1) -> Formula:
    """A sum of one part, in units of `scale`."""

    def formula(scope: Scope) -> float | None:
        return scope.get(part) / scale

    return formula


def ratio(numerator: str, *denominator: str, scale: int = 1) -> Formula:
    """`numerator / (sum of denominator parts * scale)`; null on a zero denominator."""

    def formula(scope: Scope) -> float | None:
        return _ratio(scope.get(numerator), sum(scope.get(d) for d in denominator) * scale)

    return formula


def marketing_roi(scope: Scope) -> float | None:
    """(won amount with a channel - spend) / spend."""
    spend = scope.get(p.SPEND_MICRO)
    return _ratio(scope.get(p.WON_AMOUNT_MICRO) - spend, spend)


def nps(scope: Scope) -> float | None:
    """100 * (share of promoters - share of detractors)."""
    responses = scope.get(p.NPS_RESPONSES)
    promoters_minus_detractors = scope.get(p.NPS_PROMOTERS) - scope.get(p.NPS_DETRACTORS)
    return _ratio(100 * promoters_minus_detractors, responses)


def retention_rate(scope: Scope) -> float | None:
    """(S - L) / S."""
    at_start = scope.get(CUSTOMERS_AT_START)
    return _ratio(at_start - scope.get(CUSTOMERS_CHURNED_IN_WINDOW), at_start)


def churn_rate(scope: Scope) -> float | None:
    """L / S."""
    return _ratio(scope.get(CUSTOMERS_CHURNED_IN_WINDOW), scope.get(CUSTOMERS_AT_START))


def customer_lifetime_value(scope: Scope) -> float | None:
    """ARPA * gross_margin / churn_rate(30d); null when the churn rate is 0 or null."""
    active = scope.get(p.ACTIVE_CUSTOMERS)
    month = scope.month()
    churned = month.get(CUSTOMERS_CHURNED_IN_WINDOW)
    if not active or not churned:
        return None
    # (mrr / active) / (L / S), kept as one exact integer quotient.
    arpa_over_churn = (scope.get(p.MRR_MICRO) * month.get(CUSTOMERS_AT_START)) / (
        active * MICRO * churned
    )
    return arpa_over_churn * scope.gross_margin


def retention_counts(
    acquired: dict[int, int],
    churned_by_acquisition: dict[int, int],
    churned_by_later_of: dict[int, int],
    start_minute: int,
) -> tuple[int, int]:
    """S and L of KPIS.md #6 for a window starting at `start_minute`.

    S = acquired before the start and not churned before it; L = those of S
    churned in the window. Since "acquired before and churned before the
    start" is "the later of the two minutes is before the start",
    S = A(<s) - G(<s) and L = C(<s) - G(<s), where A counts acquisitions,
    C churned customers by acquisition minute, G by the later minute.
    """

    def before(counts: dict[int, int]) -> int:
        return sum(count for minute, count in counts.items() if minute < start_minute)

    gone = before(churned_by_later_of)
    return before(acquired) - gone, before(churned_by_acquisition) - gone


SALES_CYCLE_DAYS = ratio(p.WON_CYCLE_US, p.OPPORTUNITIES_WON, scale=DAY_US)
RESOLUTION_TIME_HOURS = ratio(p.RESOLUTION_US, p.TICKETS_FIRST_RESOLVED, scale=HOUR_US)
