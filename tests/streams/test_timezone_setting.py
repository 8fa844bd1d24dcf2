"""CRMKPI_TIMEZONE: an IANA name for the calendar windows, UTC by default."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from streams.config import Settings


def test_the_time_zone_is_utc_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMKPI_TIMEZONE", raising=False)
    assert Settings().zone() == ZoneInfo("UTC")
    monkeypatch.setenv("CRMKPI_TIMEZONE", "Asia/Kathmandu")
    assert Settings().zone() == ZoneInfo("Asia/Kathmandu")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "utc+2"])
def test_an_unknown_time_zone_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("CRMKPI_TIMEZONE", name)
    with pytest.raises(ValidationError, match="is not an IANA time zone name"):
        Settings()
