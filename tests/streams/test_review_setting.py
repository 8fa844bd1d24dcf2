"""CRMKPI_REVIEW (or `review:` in the config file): the periodic review's schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kpis.review.schedule import Schedule
from streams.config import Settings


def test_no_schedule_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMKPI_REVIEW", raising=False)
    monkeypatch.delenv("CRMKPI_CONFIG", raising=False)
    assert Settings().review.schedules() == ()


def test_the_config_file_sets_both_schedules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "crmkpi.yaml"
    config.write_text('review: {weekly: "MON 08:00", monthly: "1 08:30", channels: [email]}\n')
    monkeypatch.delenv("CRMKPI_REVIEW", raising=False)
    monkeypatch.setenv("CRMKPI_CONFIG", str(config))
    review = Settings().review
    assert review.schedules() == (Schedule("weekly", 0, 8, 0), Schedule("monthly", 1, 8, 30))
    assert review.channels == ("email",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"weekly": "MONDAY 08:00"}', "'MONDAY' is not a weekday"),
        ('{"monthly": "31 08:00"}', "from 1 to 28"),
        ('{"channels": ["teams"]}', "slack"),
    ],
)
def test_a_bad_schedule_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CRMKPI_REVIEW", value)
    with pytest.raises(ValidationError, match=message):
        Settings()
