"""Tile states from the thresholds file: which shown value crosses a line, and how badly.

The page shows values as they are now, so it evaluates the comparisons that need
nothing but the current snapshot: `below`, `above` and `idle` (every window of a
KPI is in the snapshot). `drop`, `drop_percent` and quantile thresholds compare
with history or histograms that Prometheus keeps; their alerts come from there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kpis.severity import Severity, rank
from kpis.thresholds import Threshold

State = Literal["ok", "warning", "breach"]
EVALUATED = frozenset({"below", "above", "idle"})

# dimension value ("" for the overall series) -> value, for one KPI in one window
SeriesValues = Mapping[str, float | None]


def state_of(severity: Severity | None) -> State:
    """What the page shows for the worst severity crossed (None: nothing crossed)."""
    if severity is None:
        return "ok"
    return "breach" if severity == "critical" else "warning"


def evaluated_here(threshold: Threshold) -> bool:
    """Whether the page can judge this threshold from one snapshot."""
    return threshold.comparison in EVALUATED and threshold.quantile is None


def _matching(threshold: Threshold, names: list[str]) -> list[str]:
    """The series a threshold watches: the overall one, or the matching dimension values."""
    if threshold.dimension is None:
        return [""]
    (pattern,) = threshold.dimension.values()
    anchored = re.compile(f"(?:{pattern})\\Z")  # Prometheus label matchers are anchored
    return [name for name in names if name and anchored.match(name)]


@dataclass(frozen=True)
class Judge:
    """The thresholds the page can evaluate, at the snapshot's watermark."""

    thresholds: tuple[Threshold, ...]
    watermark_us: int | None

    def _applies(self, threshold: Threshold) -> bool:
        if not threshold.business_days:
            return True
        if self.watermark_us is None:
            return False
        return datetime.fromtimestamp(self.watermark_us / 1e6, UTC).weekday() < 5

    def severities(
        self, kpi: str, window: str, by_window: Mapping[str, SeriesValues]
    ) -> dict[str, Severity]:
        """The worst severity crossed by each series of `kpi` in `window` ("" is overall)."""
        values = by_window.get(window, {})
        crossed: dict[str, Severity] = {}
        for threshold in self.thresholds:
            if threshold.kpi != kpi or threshold.window != window:
                continue
            if not evaluated_here(threshold) or not self._applies(threshold):
                continue
            earlier = by_window.get(threshold.over or "", {})
            for name in _matching(threshold, sorted({*values, *earlier})):
                if threshold.crossed(values.get(name), earlier.get(name)):
                    known = crossed.get(name, threshold.severity)
                    crossed[name] = max(known, threshold.severity, key=rank)
        return crossed
