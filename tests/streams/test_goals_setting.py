"""CRMKPI_GOALS_FILE: the goals of the snapshot, deploy/goals.yaml by default; a bad file stops
the worker with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpis.goals import read_goals
from streams.app import create_app
from streams.config import Settings
from streams.errors import ConfigError


def test_the_shipped_goals_unless_a_file_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CRMKPI_GOALS_FILE", raising=False)
    assert Settings().goals() == read_goals()
    own = tmp_path / "goals.yaml"
    own.write_text("goals:\n  - {kpi: csat, window: mtd, dimension: {team: emea}, target: 0.9}\n")
    monkeypatch.setenv("CRMKPI_GOALS_FILE", str(own))
    (goal,) = Settings().goals()
    assert (goal.kpi, goal.labels, goal.target) == ("csat", {"team": "emea"}, 0.9)


def test_a_bad_goals_file_stops_the_worker_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "goals.yaml"
    bad.write_text("goals:\n  - {kpi: cast, window: mtd, target: 0.9}\n")
    monkeypatch.setenv("CRMKPI_GOALS_FILE", str(bad))
    with pytest.raises(ConfigError) as caught:
        create_app(Settings())
    assert str(caught.value) == (
        "goals.yaml: entry 1 (cast mtd): unknown KPI 'cast' (did you mean 'csat'?)"
    )
