"""How the values of each catalogue unit are shown: on the page, in Grafana and in alert text.

One format per unit, e.g. a ratio is a percent written `80%` everywhere: the
page formats with the unit's `page_format()`, Grafana with `grafana` and
`decimals`, alert text with `value_template()` and `limit_text()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PERCENT = "ratio"


@dataclass(frozen=True)
class Unit:
    """One catalogue unit (`ratio`, `currency`, `count`, `days`, `hours`, `nps`)."""

    name: str
    grafana: str  # Grafana's unit id
    decimals: int
    small_decimals: int | None = None  # decimals below 1000 in magnitude (cents of amounts)
    scale: int = 1  # shown value per value: 100 for a percent
    suffix: str = ""
    signed: bool = False  # a score: `+` before positive values

    @property
    def precise_decimals(self) -> int:
        return self.decimals if self.small_decimals is None else self.small_decimals

    def limit_text(self, value: float, signed: bool = True) -> str:
        """A threshold for people, with the digits it has: `80%`, `48 h`, `+10 points`."""
        sign = "+" if signed and self.signed and value > 0 else ""
        return f"{sign}{value * self.scale:g}{self.suffix}"

    def value_template(self, signed: bool = True, of: str = "$value") -> str:
        """Go template printing an alert's `$value` (or the value `of`) in this unit
        (Prometheus' percent format)."""
        if self.name == PERCENT:
            return f"{{{{ {of} | humanizePercentage }}}}"
        sign = "+" if signed and self.signed else ""
        return f'{{{{ printf "%{sign}.{self.precise_decimals}f" {of} }}}}{self.suffix}'

    def template_text(self, value: float, signed: bool = True) -> str:
        """What `value_template` prints for `value`."""
        if self.name == PERCENT:
            return f"{value * 100:.4g}%"
        sign = "+" if signed and self.signed else ""
        return f"{value:{sign}.{self.precise_decimals}f}{self.suffix}"

    def page_format(self) -> dict[str, Any]:
        """What the page's formatter needs (it rounds with the browser's locale)."""
        return {
            "scale": self.scale,
            "decimals": self.decimals,
            "small_decimals": self.small_decimals,
            "suffix": self.suffix,
            "signed": self.signed,
        }


PERCENT_CHANGE = Unit("percent", "percent", 1, suffix="%")
"""A relative change, already in percent (`drop_percent` thresholds)."""

UNITS = {
    unit.name: unit
    for unit in (
        Unit(PERCENT, "percentunit", 1, scale=100, suffix="%"),
        Unit("currency", "currencyUSD", 0, small_decimals=2),
        Unit("count", "short", 0),
        Unit("days", "d", 1, suffix=" days"),
        Unit("hours", "h", 1, suffix=" h"),
        Unit("nps", "none", 1, suffix=" points", signed=True),
    )
}
