"""The gross margin is run-time configuration: generated files never depend on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from kpis.engine import PartitionState
from streams.cli.rules import write_rules
from streams.config import Settings
from streams.read.exposition import render
from streams.read.snapshot_reader import read_snapshot
from streams.read.store import MemoryStore, Position
from tests import REPO_ROOT
from tests.kpis.test_properties import NOW_US
from tests.streams.read.test_exposition import LINES

ROOT = REPO_ROOT


def test_generating_with_a_gross_margin_set_gives_the_committed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMKPI_GROSS_MARGIN", "0.35")
    settings = Settings()
    assert settings.gross_margin == 0.35
    deploy, dashboards = tmp_path / "deploy", tmp_path / "dashboards"
    written = write_rules(settings, deploy, Console(quiet=True), dashboards)
    assert written
    for path in written:
        if path.is_relative_to(deploy):
            committed = ROOT / "deploy" / path.relative_to(deploy)
        else:
            committed = ROOT / "grafana" / "dashboards" / path.relative_to(dashboards)
        assert path.read_text() == committed.read_text(), f"{committed} depends on the margin"


def test_clv_rule_multiplies_by_the_exported_margin() -> None:
    rules = (ROOT / "deploy/prometheus/rules/crmkpi-kpis.rules.yml").read_text()
    assert "max(crmkpi_gross_margin)" in rules
    assert "0.35" not in rules


async def test_the_reporter_exports_the_gross_margin_of_its_snapshot() -> None:
    state = PartitionState()
    for raw in LINES:
        state.apply_raw(raw, NOW_US)
    store = MemoryStore()
    position = Position(4, watermark_us=state.ledger.watermark_us)
    await store.publish("p:0", position, list(state.ledger.values.items()), True)
    snapshot, _ = await read_snapshot(store, None, 0.35)
    families = {
        family.name: family
        for family in text_string_to_metric_families(render(snapshot, {}).decode())
    }
    (sample,) = families["crmkpi_gross_margin"].samples
    assert sample.value == 0.35
