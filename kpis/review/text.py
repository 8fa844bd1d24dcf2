"""How the review writes values, changes and labels, in each KPI's unit."""

from __future__ import annotations

from kpis.catalogue import Kpi
from kpis.review.model import Change, GoalReview
from kpis.units import PERCENT, Currency

NO_VALUE = "n/a"


def value_text(kpi: Kpi, value: float | None, currency: Currency) -> str:
    """A value as alert texts write it: `80%`, `12.5 h`, `$22.5k`."""
    if value is None:
        return NO_VALUE
    unit = kpi.display(currency)
    if value < 0:
        return f"-{unit.template_text(-value, signed=False)}"
    return unit.template_text(value)


def delta_text(kpi: Kpi, change: Change, currency: Currency) -> str:
    """The change with its sign, ratios in percentage points: `+2.5 pts`, `-$1.2k`."""
    delta = change.delta
    if delta is None:
        return NO_VALUE
    if kpi.display(currency).name == PERCENT:
        return f"{delta * 100:+.1f} pts"
    sign = "+" if delta >= 0 else "-"
    return f"{sign}{value_text(kpi, abs(delta), currency).lstrip('+')}"


def relative_text(change: Change) -> str:
    """The relative change: `+12.0%`."""
    relative = change.relative
    return NO_VALUE if relative is None else f"{relative * 100:+.1f}%"


def percent_text(fraction: float | None) -> str:
    """Attainment or pace: `87%`."""
    return NO_VALUE if fraction is None else f"{fraction * 100:.0f}%"


def goal_name(goal: GoalReview) -> str:
    """`won_amount (rep=rep-01, mtd)`."""
    scope = [f"{name}={value}" for name, value in sorted(goal.labels.items())]
    return f"{goal.kpi} ({', '.join([*scope, goal.window])})"


IDS_SHOWN = 20
"""Customer ids shown per segment; the rest are counted (`and 12 more`)."""
IDS_NOT_LISTED = "not listed by /kpis"


def ids_text(ids: tuple[str, ...] | None) -> str:
    """`c-1, c-2 and 12 more`; says so when /kpis listed no ids."""
    if ids is None:
        return IDS_NOT_LISTED
    more = len(ids) - IDS_SHOWN
    shown = ", ".join(ids[:IDS_SHOWN])
    return f"{shown} and {more} more" if more > 0 else shown
