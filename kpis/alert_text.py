"""What an alert says while the KPI is over the line and once it is back: the KPI in words,
the window, the value against the threshold. Every number is written by the KPI's unit
(`kpis.units`), amounts in the configured currency; the thresholds file's summaries are
templates naming these placeholders.
"""

from __future__ import annotations

import difflib
import string
from typing import TYPE_CHECKING

from kpis.formulas import quantile_name
from kpis.units import PERCENT, PERCENT_CHANGE, UNITS, Currency, Unit
from kpis.windows import NOW

if TYPE_CHECKING:  # kpis.thresholds validates summaries with `summary_problem`
    from kpis.thresholds import Threshold

PLACEHOLDERS = ("kpi", "window", "value", "threshold", "over", "dimension")
"""What a summary may name: `{kpi} over {window} is {value}, below {threshold}`."""


def summary_problem(summary: str) -> str | None:
    """What is wrong with a summary template, or None: unknown placeholders, typed numbers."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(summary) if name is not None]
    except ValueError as error:
        return f"not a template ({error})"
    for name in names:
        if name not in PLACEHOLDERS:
            close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
            hint = f" (did you mean {{{close[0]}}}?)" if close else ""
            return f"unknown placeholder {{{name}}}{hint}; one of " + ", ".join(
                f"{{{p}}}" for p in PLACEHOLDERS
            )
    if any(character.isdigit() for character in summary):
        return "write numbers as {threshold}, {value}, {window} or {over}, not by hand"
    return None


def shown_as(threshold: Threshold, currency: Currency) -> tuple[Unit, bool]:
    """The unit an alert's value and limit are written in (amounts in `currency`), and
    whether with a sign.

    A drop is a positive difference (never signed); `drop_percent` compares in percent.
    """
    if threshold.comparison == "drop_percent":
        return PERCENT_CHANGE, False
    if threshold.comparison == "behind_pace":
        return UNITS[PERCENT], False  # a pace: 0.8 is 80% of the way the goal needs
    return threshold.catalogue_kpi.display(currency), threshold.comparison != "drop"


def limit_text(threshold: Threshold, currency: Currency) -> str:
    unit, signed = shown_as(threshold, currency)
    return unit.limit_text(threshold.value or 0.0, signed)


def threshold_words(threshold: Threshold, currency: Currency) -> str:
    """The line in words: `below 80%`, `a drop of more than 10 points against 30d earlier`."""
    limit = limit_text(threshold, currency)
    if threshold.comparison in {"below", "above"}:
        return f"{threshold.comparison} {limit}"
    if threshold.comparison in {"drop", "drop_percent"}:
        return f"a drop of more than {limit} against {threshold.over} earlier"
    if threshold.comparison == "behind_pace":
        return f"a pace below {limit}{_after(threshold)}"
    return f"none in {threshold.window}, with some in the last {threshold.over}"


def _after(threshold: Threshold) -> str:
    return f" after the first {threshold.after} of the period" if threshold.after else ""


def kpi_words(threshold: Threshold) -> str:
    """The KPI's title, with its quantile: `Resolution time p90`."""
    title = threshold.catalogue_kpi.title
    if threshold.quantile is not None:
        title += f" {quantile_name(threshold.quantile)}"
    return title


def _where(threshold: Threshold, dimension_value: str) -> str:
    where = f" over {threshold.window}" if threshold.window != NOW else ""
    if threshold.dimension is not None:
        where += f" for {threshold.catalogue_kpi.dimension} {dimension_value}"
    return where


def summary(threshold: Threshold, currency: Currency, value: str, dimension_value: str) -> str:
    """The thresholds file's summary template, filled in."""
    return threshold.summary.format(
        kpi=kpi_words(threshold),
        window=threshold.window,
        value=value,
        threshold=limit_text(threshold, currency),
        over=threshold.over or "",
        dimension=dimension_value,
    )


def description(threshold: Threshold, currency: Currency, value: str, dimension_value: str) -> str:
    """The text while over the line: KPI in words, window, dimension, value and threshold."""
    title = kpi_words(threshold) + _where(threshold, dimension_value)
    limit = limit_text(threshold, currency)
    if threshold.comparison in {"below", "above"}:
        return f"{title} is {value}, {threshold.comparison} the threshold {limit}."
    if threshold.comparison in {"drop", "drop_percent"}:
        return (
            f"{title} fell by {value} against {threshold.over} earlier "
            f"(threshold: a drop of more than {limit})."
        )
    if threshold.comparison == "behind_pace":
        return f"{title} is at a pace of {value} of its goal, below {limit}{_after(threshold)}."
    return f"{title} is 0, with some in the last {threshold.over} (threshold: none in the window)."


def recovered_summary(
    threshold: Threshold, currency: Currency, value: str, dimension_value: str, before: str
) -> str:
    """The title once back on the right side of the line: the value of that moment, and the
    value `before` it came back."""
    title = kpi_words(threshold) + _where(threshold, dimension_value)
    limit = limit_text(threshold, currency)
    now = f"({value} now, {before} before)"
    if threshold.comparison == "below":
        return f"{title} is back above {limit} {now}"
    if threshold.comparison == "above":
        return f"{title} is back below {limit} {now}"
    if threshold.comparison == "behind_pace":
        return f"{title} is back on pace for its goal, at or above {limit} {now}"
    return f"{title} no longer falls by more than {limit} {now}"


def recovered_description(
    threshold: Threshold, currency: Currency, value: str, dimension_value: str, before: str
) -> str:
    """The text once back: the value now against the threshold, and the value before."""
    title = kpi_words(threshold) + _where(threshold, dimension_value)
    limit = limit_text(threshold, currency)
    if threshold.comparison in {"below", "above"}:
        side = "at or above" if threshold.comparison == "below" else "at or below"
        return f"{title} is {value} now, {side} the threshold {limit} (it was {before})."
    if threshold.comparison == "behind_pace":
        return f"{title} is at a pace of {value} now, at or above {limit} (it was {before})."
    return (
        f"{title} fell by {value} against {threshold.over} earlier, "
        f"within the threshold of a drop of {limit} (it fell by {before})."
    )
