"""How the values of each catalogue unit are shown: on the page, in Grafana and in alert text.

One format per unit, e.g. a ratio is a percent written `80%` everywhere: the
page formats with the unit's `page_format()`, Grafana with `grafana` and
`decimals`, alert text with `value_template()` and `limit_text()`. Amounts are in
one configured currency (`Currency`, CRMKPI_CURRENCY): `Unit.priced` gives the
money unit its symbol and Grafana unit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

PERCENT = "ratio"
MONEY = "currency"

_ISO_4217_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA
XXX YER ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())
"""The active ISO 4217 currency codes."""

SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "INR": "₹",
    "KRW": "₩",
    "ILS": "₪",
    "VND": "₫",
    "PHP": "₱",
    "BRL": "R$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "MXN": "MX$",
    "TWD": "NT$",
    "CNY": "CN¥",
}
"""Well-known symbols, as browsers write them in English (Intl.NumberFormat, en-US); any
other code is written before the amount: `CHF 22.5M`."""

_GRAFANA_CODES = "USD GBP EUR JPY RUB UAH BRL DKK ISK NOK SEK CZK CHF PLN ZAR INR KRW"
GRAFANA_CURRENCIES = frozenset(_GRAFANA_CODES.split())
"""The codes that have a unit of their own in Grafana (`currencyEUR`, ...)."""


@dataclass(frozen=True)
class Currency:
    """The currency every amount is in: an ISO 4217 code (CRMKPI_CURRENCY)."""

    code: str

    @property
    def prefix(self) -> str:
        """What an amount starts with: its symbol (`€`), else its code and a space."""
        return SYMBOLS.get(self.code, f"{self.code} ")

    @property
    def grafana(self) -> str:
        """Grafana's unit id: its own (`currencyEUR`), else a custom one (`currency:SGD`)."""
        if self.code in GRAFANA_CURRENCIES:
            return f"currency{self.code}"
        return f"currency:{SYMBOLS.get(self.code, self.code)}"


def currency_problem(code: str) -> str | None:
    """Why `code` is not a currency code, or None."""
    if code in ISO_4217:
        return None
    close = difflib.get_close_matches(code.upper(), sorted(ISO_4217), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{code!r} is not an ISO 4217 currency code{hint}; e.g. USD, EUR, GBP, CHF"


USD = Currency("USD")
COMPACT_FROM = 1000
"""Amounts from a thousand are written compact in alert texts: `$22.5M` (and on the page)."""


def humanized(value: float) -> str:
    """What Prometheus' `humanize` prints for a value of at least a thousand: four
    significant digits and a metric prefix (`22.5M`, `1.235k`)."""
    prefix = ""
    for step in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
        if abs(value) < 1000:
            break
        prefix, value = step, value / 1000
    return f"{value:.4g}{prefix}"


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
    currency: Currency | None = None  # amounts: the currency they are in

    @property
    def prefix(self) -> str:
        return self.currency.prefix if self.currency else ""

    def priced(self, currency: Currency) -> Unit:
        """This unit for amounts in `currency` (other units are unchanged)."""
        if self.name != MONEY:
            return self
        return replace(self, grafana=currency.grafana, currency=currency)

    @property
    def precise_decimals(self) -> int:
        return self.decimals if self.small_decimals is None else self.small_decimals

    def limit_text(self, value: float, signed: bool = True) -> str:
        """A threshold for people, with the digits it has: `80%`, `48 h`, `+10 points`,
        `€500`, `€1.5k`."""
        if self.currency is not None and value >= COMPACT_FROM:
            return f"{self.prefix}{humanized(value)}"
        sign = "+" if signed and self.signed and value > 0 else ""
        return f"{sign}{self.prefix}{value * self.scale:g}{self.suffix}"

    def value_template(self, signed: bool = True, of: str = "$value") -> str:
        """Go template printing an alert's `$value` (or the value `of`) in this unit
        (Prometheus' percent format; amounts from a thousand with its `humanize`)."""
        if self.name == PERCENT:
            return f"{{{{ {of} | humanizePercentage }}}}"
        sign = "+" if signed and self.signed else ""
        printed = f'{{{{ printf "%{sign}.{self.precise_decimals}f" {of} }}}}'
        if self.currency is not None:
            compact = f"{{{{ humanize {of} }}}}"
            return (
                f"{{{{ if lt {of} {COMPACT_FROM:.1f} }}}}{self.prefix}{printed}"
                f"{{{{ else }}}}{self.prefix}{compact}{{{{ end }}}}"
            )
        return f"{self.prefix}{printed}{self.suffix}"

    def template_text(self, value: float, signed: bool = True) -> str:
        """What `value_template` prints for `value`."""
        if self.name == PERCENT:
            return f"{value * 100:.4g}%"
        if self.currency is not None and value >= COMPACT_FROM:
            return f"{self.prefix}{humanized(value)}"
        sign = "+" if signed and self.signed else ""
        return f"{self.prefix}{value:{sign}.{self.precise_decimals}f}{self.suffix}"

    def page_format(self) -> dict[str, Any]:
        """What the page's formatter needs (it rounds with the browser's locale)."""
        return {
            "scale": self.scale,
            "decimals": self.decimals,
            "small_decimals": self.small_decimals,
            "suffix": self.suffix,
            "signed": self.signed,
            "currency": self.currency.code if self.currency else None,
        }


PERCENT_CHANGE = Unit("percent", "percent", 1, suffix="%")
"""A relative change, already in percent (`drop_percent` thresholds)."""

UNITS = {
    unit.name: unit
    for unit in (
        Unit(PERCENT, "percentunit", 1, scale=100, suffix="%"),
        Unit(MONEY, USD.grafana, 0, small_decimals=2, currency=USD),
        Unit("count", "short", 0),
        Unit("days", "d", 1, suffix=" days"),
        Unit("hours", "h", 1, suffix=" h"),
        Unit("nps", "none", 1, suffix=" points", signed=True),
    )
}
