"""Amounts in the configured currency: symbols, Grafana units, alert texts, dashboards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kpis.alert_rules import rule_annotations
from kpis.catalogue import CATALOGUE
from kpis.dashboards import generated_dashboards
from kpis.rules import ALERT_TESTS_FILE, generated_files
from kpis.thresholds import parse_thresholds, read_thresholds
from kpis.units import UNITS, USD, Currency, currency_problem
from tests.kpis.test_rules import binary

CAC_ENTRY = """
thresholds:
  - kpi: customer_acquisition_cost
    window: 30d
    comparison: above
    value: 1500
    severity: warning
    summary: "{kpi} over {window} is {value}, above {threshold}"
    runbook: /docs/runbooks/cac.md
"""
MONEY_KPIS = {kpi.name for kpi in CATALOGUE if kpi.unit == "currency"}


@pytest.mark.parametrize(
    ("code", "prefix", "grafana"),
    [
        ("USD", "$", "currencyUSD"),
        ("EUR", "€", "currencyEUR"),
        ("GBP", "£", "currencyGBP"),
        ("JPY", "¥", "currencyJPY"),
        ("CHF", "CHF ", "currencyCHF"),  # no symbol of its own: the code
        ("CAD", "CA$", "currency:CA$"),  # Grafana has no unit for it: its custom one
        ("SGD", "SGD ", "currency:SGD"),
    ],
)
def test_a_currency_writes_its_symbol_or_code_and_has_a_grafana_unit(
    code: str, prefix: str, grafana: str
) -> None:
    currency = Currency(code)
    assert currency.prefix == prefix
    assert currency.grafana == grafana


def test_amounts_are_written_with_the_currency_in_alert_texts() -> None:
    euro = UNITS["currency"].priced(Currency("EUR"))
    assert euro.limit_text(500) == "€500"
    assert euro.template_text(412.5) == "€412.50"
    assert euro.value_template() == (
        '{{ if lt $value 1000.0 }}€{{ printf "%.2f" $value }}'
        "{{ else }}€{{ humanize $value }}{{ end }}"
    )
    assert euro.page_format()["currency"] == "EUR"
    franc = UNITS["currency"].priced(Currency("CHF"))
    assert franc.template_text(0.5) == "CHF 0.50"
    assert UNITS["currency"].currency == USD  # the default


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (999.99, "€999.99"),
        (1_000, "€1k"),
        (1_234.5, "€1.234k"),  # four significant digits, as Prometheus' humanize
        (22_480_000, "€22.48M"),
        (7_000_000, "€7M"),
        (3.5e9, "€3.5G"),
    ],
)
def test_amounts_from_a_thousand_are_compact_in_alert_texts(amount: float, text: str) -> None:
    euro = UNITS["currency"].priced(Currency("EUR"))
    assert euro.template_text(amount) == text
    assert euro.limit_text(amount) == text


def test_other_units_do_not_change_with_the_currency() -> None:
    for name, unit in UNITS.items():
        if name != "currency":
            assert unit.priced(Currency("EUR")) == unit
            assert unit.page_format()["currency"] is None


def test_an_unknown_code_is_refused_with_a_suggestion() -> None:
    assert currency_problem("EUR") is None
    assert currency_problem("EURO") == (
        "'EURO' is not an ISO 4217 currency code (did you mean 'EUR'?); e.g. USD, EUR, GBP, CHF"
    )
    assert "is not an ISO 4217 currency code" in (currency_problem("Q1") or "")


def test_dashboards_show_amounts_in_the_currency_and_nothing_else_changes() -> None:
    default = generated_dashboards(read_thresholds(), ())
    francs = generated_dashboards(read_thresholds(currency=Currency("CHF")), ())
    assert set(default) == set(francs)
    units = set()
    for name, text in francs.items():
        for panel in json.loads(text)["panels"]:
            if panel["type"] == "row":
                continue
            unit = panel["fieldConfig"]["defaults"]["unit"]
            units.add(unit)
            assert unit != "currencyUSD", (name, panel["title"])
        assert text.replace("currencyCHF", "currencyUSD") == default[name]
    assert "currencyCHF" in units


def test_every_money_kpi_panel_takes_the_grafana_unit_of_the_currency() -> None:
    board = json.loads(
        generated_dashboards(read_thresholds(currency=Currency("SGD")), ())["overview.json"]
    )
    by_title = {panel["title"]: panel for panel in board["panels"]}
    for kpi in CATALOGUE:
        found = [panel for title, panel in by_title.items() if title.startswith(kpi.title)]
        assert found, kpi.name
        unit = found[0]["fieldConfig"]["defaults"]["unit"]
        assert (unit == "currency:SGD") == (kpi.name in MONEY_KPIS), (kpi.name, unit)


def test_an_alert_on_an_amount_quotes_it_in_the_currency() -> None:
    config = parse_thresholds(CAC_ENTRY).priced(Currency("GBP"))
    annotations = rule_annotations(config.thresholds[0], config)
    assert annotations["summary"].startswith(
        "{{ if gt $value 1500.0 }}Customer acquisition cost (CAC) over 30d is "
        '{{ if lt $value 1000.0 }}£{{ printf "%.2f" $value }}{{ else }}£{{ humanize $value }}'
        "{{ end }}, above £1.5k{{ else }}"
    )
    assert annotations["threshold"] == "above £1.5k"


@pytest.mark.parametrize("code", ["EUR", "CHF"])
def test_promtool_renders_amount_alerts_as_their_tests_expect(code: str, tmp_path: Path) -> None:
    config = parse_thresholds(CAC_ENTRY).priced(Currency(code))
    for relative, text in generated_files(config).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    tests = tmp_path / ALERT_TESTS_FILE
    assert Currency(code).prefix + "1.65k" in tests.read_text()  # the quoted breach
    result = subprocess.run(
        [binary("promtool"), "test", "rules", tests.name],
        cwd=tests.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
