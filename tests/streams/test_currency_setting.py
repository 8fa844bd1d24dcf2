"""CRMKPI_CURRENCY: an ISO 4217 code for every amount shown, USD by default."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError
from rich.console import Console

from kpis.units import Currency
from streams.cli.snapshot import print_snapshot
from streams.config import Settings
from tests.processes import run_crmkpi

DOCUMENT = {
    "watermark": None,
    "lag": 0,
    "events": {"accepted": 3, "rejected": {}},
    "kpis": [
        {"kpi": "mrr", "window": "now", "labels": {}, "value": 1234567.891},
        {"kpi": "csat", "window": "30d", "labels": {}, "value": 0.8333},
        {"kpi": "customer_acquisition_cost", "window": "30d", "labels": {}, "value": None},
    ],
}


def test_the_currency_is_usd_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMKPI_CURRENCY", raising=False)
    assert Settings().money() == Currency("USD")
    monkeypatch.setenv("CRMKPI_CURRENCY", " eur ")
    assert Settings().money() == Currency("EUR")


@pytest.mark.parametrize("code", ["EURO", "€", "", "US"])
def test_an_unknown_code_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    monkeypatch.setenv("CRMKPI_CURRENCY", code)
    with pytest.raises(ValidationError, match="is not an ISO 4217 currency code"):
        Settings()


def test_the_command_line_says_which_setting_is_wrong_in_one_line() -> None:
    result = run_crmkpi(["snapshot"], {**os.environ, "CRMKPI_CURRENCY": "EURO"}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "crmkpi: error: CRMKPI_CURRENCY: 'EURO' is not an ISO 4217 currency code "
        "(did you mean 'EUR'?); e.g. USD, EUR, GBP, CHF"
    ]


def test_the_snapshot_table_writes_amounts_in_the_currency() -> None:
    console = Console(record=True, width=120)
    print_snapshot(DOCUMENT, False, console, Currency("EUR"))
    text = console.export_text()
    assert "€1,234,567.89" in text
    assert "0.8333" in text and "€0.83" not in text
    franc = Console(record=True, width=120)
    print_snapshot(DOCUMENT, False, franc, Currency("CHF"))
    assert "CHF 1,234,567.89" in franc.export_text()
