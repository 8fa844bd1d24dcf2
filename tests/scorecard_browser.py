"""Debian's chromium driven by Playwright, for the scorecard tests (never a downloaded browser)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CRMKPI_CHROMIUM", "/usr/bin/chromium"))
DIGITS = {"ratio": 1, "hours": 1, "days": 1, "nps": 1, "count": 0}
OK_GREEN, BREACH_RED = "rgb(46, 125, 79)", "rgb(192, 50, 43)"  # --ok, --breach (light scheme)
WARNING_ORANGE = "rgb(168, 100, 0)"  # --warning (light scheme)


def chromium_or_skip() -> Path:
    """The browser binary; skips (fails under CI) when it or Playwright is missing."""
    message = ""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run CRMKPI_WITH_CHROMIUM=1 scripts/ensure-services.sh"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            message = "playwright is not installed: pip install -e '.[dev]'"
    if message:
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for a test module."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), headless=True)
        try:
            yield launched
        finally:
            launched.close()


COMPACT = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}  # Intl's compact suffixes (en-US)
NUMBER = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?")


def shown_number(unit: str, text: str) -> float | None:
    """The number a tile shows, in the KPI's unit (a percent back to a fraction, a compact
    amount such as `€22.5M` back to units)."""
    if text == "\u2013":  # en dash: no value
        return None
    found = NUMBER.search(text)
    assert found is not None, text
    number = float(found.group().replace(",", ""))
    if "-" in text[: found.start()] or "\u2212" in text[: found.start()]:
        number = -number
    number *= COMPACT.get(text[found.end() :].strip()[:1], 1.0)
    return number / 100 if unit == "ratio" else number


def shown_matches(unit: str, text: str, value: float | None) -> bool:
    """Whether `text` is `value` rounded as the page rounds it for `unit` (amounts from a
    thousand to one decimal of their compact magnitude)."""
    shown = shown_number(unit, text)
    if value is None or shown is None:
        return value is None and shown is None
    if unit == "currency":
        magnitude = COMPACT.get(text.rstrip()[-1:], 1.0)
        tolerance = 0.05 * magnitude if magnitude > 1 else 0.005
        return abs(shown - value) <= tolerance + 1e-9
    digits = DIGITS.get(unit, 0)
    scale = 100 if unit == "ratio" else 1
    return abs(shown * scale - value * scale) <= 0.5 * 10**-digits + 1e-9
