"""The goals file: a target per KPI, window and maybe one dimension value, and how far along
each goal is.

Attainment is value / target for a KPI that is better higher, target / value for one that
is better lower (null when the value is null, or 0 for a lower-is-better KPI). Pace applies
to additive KPIs (counts, sums) over a calendar window (`mtd`, `qtd`): attainment divided
by the elapsed fraction of the period, `(T - start) / (end - start)`, from the local
midnight that starts the period to the one that starts the next, in `CRMKPI_TIMEZONE`,
in real seconds (a month with a DST change is an hour shorter or longer). A pace of 1 is on
track to meet the target at the end of the period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from kpis.catalogue import CATALOGUE, HIGHER, KPIS_BY_NAME, Kpi
from kpis.snapshot import KpiValue
from kpis.validation import kpi_problem, load_document, validated_entries
from kpis.windows import CALENDAR_WINDOWS, UTC_ZONE

DEFAULT_GOALS_FILE = Path(__file__).resolve().parent.parent / "deploy" / "goals.yaml"
GOAL_DIMENSIONS = tuple(dict.fromkeys(kpi.dimension for kpi in CATALOGUE))
"""The dimension labels of `crmkpi_goal_target`: every dimension of the catalogue."""


class GoalsError(ValueError):
    """A goals file that cannot be used; the message is one line naming the entry."""


class Goal(BaseModel):
    """One target: a KPI in one window, overall or for one value of its dimension."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kpi: str
    window: str
    dimension: dict[str, str] | None = None  # {rep: "rep-01"}; absent: the overall series
    target: float = Field(gt=0)  # in the KPI's unit (ratios are fractions: 0.85 is 85%)

    @property
    def catalogue_kpi(self) -> Kpi:
        return KPIS_BY_NAME[self.kpi]

    @property
    def labels(self) -> dict[str, str]:
        """The labels of the KPI series it is about, as in `/kpis`."""
        return dict(self.dimension or {})

    @property
    def has_pace(self) -> bool:
        """Whether pace applies: a count or sum over a calendar period."""
        return self.catalogue_kpi.additive and self.window in CALENDAR_WINDOWS


Goals = tuple[Goal, ...]


def _series_of(goal: Goal) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """The KPI series a goal is about: KPI, window, labels."""
    return goal.kpi, goal.window, tuple(sorted(goal.labels.items()))


def _problem(goal: Goal, earlier: list[Goal]) -> str | None:
    """What is wrong with a goal against the catalogue and the goals before it, or None."""
    problem = kpi_problem(goal.kpi, goal.window, goal.dimension)
    if problem:
        return problem
    for value in (goal.dimension or {}).values():
        if not value:
            return f"dimension: a {goal.catalogue_kpi.dimension} name, not an empty string"
    if any(_series_of(seen) == _series_of(goal) for seen in earlier):
        return "a goal for the same series is defined above"
    return None


def parse_goals(text: str, source: str = "goals.yaml") -> Goals:
    """The validated goals of a YAML text; GoalsError names the first bad entry."""
    _, entries = load_document(text, source, "goals", GoalsError)
    return tuple(validated_entries(entries, source, Goal, _problem, GoalsError))


def read_goals(path: Path | None = None) -> Goals:
    """The goals file at `path`, or the default one shipped with crmkpi (none without it)."""
    if path is None and not DEFAULT_GOALS_FILE.exists():
        return ()
    path = path or DEFAULT_GOALS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise GoalsError(f"{path}: cannot read ({error.strerror})") from None
    return parse_goals(text, path.name)


def attainment(kpi: Kpi, value: float | None, target: float) -> float | None:
    """value / target (better higher) or target / value (better lower); None if undefined."""
    if value is None:
        return None
    if kpi.better == HIGHER:
        return value / target
    return target / value if value > 0 else None


def period_bounds(window: str, watermark_us: int, zone: ZoneInfo) -> tuple[int, int]:
    """Start and end (exclusive) of the calendar period containing T, in microseconds."""
    calendar = CALENDAR_WINDOWS[window]
    return calendar.start_us(watermark_us, zone), calendar.period_end_us(watermark_us, zone)


def elapsed_fraction(window: str, watermark_us: int | None, zone: ZoneInfo) -> float | None:
    """How much of the calendar period containing T has passed at T; None before any event."""
    if watermark_us is None:
        return None
    start, end = period_bounds(window, watermark_us, zone)
    return (watermark_us - start) / (end - start)


def pace(attained: float | None, elapsed: float | None) -> float | None:
    """Attainment over the elapsed fraction: 1 is on track; None at the period's very start."""
    if attained is None or not elapsed:
        return None
    return attained / elapsed


@dataclass(frozen=True)
class GoalProgress:
    """One goal against the KPI's current value."""

    goal: Goal
    value: float | None
    attainment: float | None
    pace: float | None

    def to_json(self) -> dict[str, object]:
        """The entry of the `goals` list of `/kpis`; `pace` only where it applies."""
        goal = self.goal
        document: dict[str, object] = {
            "kpi": goal.kpi,
            "window": goal.window,
            "labels": goal.labels,
            "target": goal.target,
            "value": self.value,
            "attainment": self.attainment,
            "direction": goal.catalogue_kpi.better,
        }
        if goal.has_pace:
            document["pace"] = self.pace
        return document

    @property
    def on_track(self) -> bool | None:
        """Whether the goal is met or on its way: pace (where it applies, else attainment) of
        at least 1; None while neither is known."""
        measure = self.pace if self.goal.has_pace else self.attainment
        return None if measure is None else measure >= 1


def progress(
    goals: Iterable[Goal],
    kpis: Iterable[KpiValue],
    watermark_us: int | None,
    zone: ZoneInfo = UTC_ZONE,
) -> list[GoalProgress]:
    """Each goal's value, attainment and pace from the snapshot's KPI series."""
    goals = tuple(goals)
    names = {goal.kpi for goal in goals}  # read once per snapshot: skip the other KPIs' series
    values = {
        (v.kpi, v.window, tuple(sorted(v.labels.items()))): v.value for v in kpis if v.kpi in names
    }
    result = []
    for goal in goals:
        series = _series_of(goal)
        # A count or sum without a series for its dimension value has none in the window: 0.
        missing = 0.0 if goal.catalogue_kpi.additive and watermark_us is not None else None
        value = values.get(series, missing)
        attained = attainment(goal.catalogue_kpi, value, goal.target)
        paced = None
        if goal.has_pace:
            paced = pace(attained, elapsed_fraction(goal.window, watermark_us, zone))
        result.append(GoalProgress(goal, value, attained, paced))
    return result
