"""PromQL sums of exported part families, the terms every KPI formula's PromQL is made of."""

from __future__ import annotations

from dataclasses import dataclass

from kpis import metric_names as m


@dataclass(frozen=True)
class Sums:
    """Sums of part families by the window (when `windowed`) and maybe one dimension.

    A recording rule of one level (`window` or `window_<dimension>`) reads one `Sums`.
    """

    windowed: bool
    dimension: str | None = None

    @property
    def by(self) -> tuple[str, ...]:
        return (*(("window",) if self.windowed else ()), *filter(None, (self.dimension,)))

    @property
    def level(self) -> str:
        """The recording level: `window` overall, `window_team` per team."""
        return f"window_{self.dimension}" if self.dimension else "window"

    def __call__(self, part: str) -> str:
        """The sum of the family a part is exported as."""
        return self.of_family(m.promql_family(part).name)

    def of_family(self, name: str) -> str:
        """The sum of an exported family."""
        return f"sum by ({', '.join(self.by)}) ({name})" if self.by else f"sum({name})"

    def filled(self, part: str, like: str) -> str:
        """The sum of `part`, 0 where only `like` has a series (parts are exported when seen)."""
        return f"({self(part)} or 0 * {self(like)})"

    def ratio(self, numerator: str, denominator: str) -> str:
        """`numerator / denominator`, no sample where the denominator is 0."""
        return f"{self.filled(numerator, denominator)} / ({self(denominator)} > 0)"

    def recorded(self, kpi: str, operation: str) -> str:
        """The series another KPI's recording rule of the same level writes."""
        return m.recorded(self.level, kpi, operation)


def in_base_units(part: str, scale: int) -> int:
    """What PromQL divides a part's family by to get a value in units of `scale`.

    Parts are integers (micro-units, microseconds); their families are exported in base
    units, so a scale of micro-units is already applied and a day of microseconds is 86400.
    """
    divisor = m.promql_family(part).divisor
    if scale % divisor:
        raise ValueError(f"scale {scale} of part {part!r} is finer than its family's base unit")
    return scale // divisor


def scaled(expression: str, divisor: int) -> str:
    return f"{expression} / {divisor}" if divisor != 1 else expression
