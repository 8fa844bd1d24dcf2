"""How the page writes amounts and changes, in a real browser against a fixed snapshot.

An in-process server per currency (no broker): each tile's text is compared with the form
people expect (`$22.5M`, `€1.2K`, `CHF 22.5M`, `▲ +5.0 pp` in green for a better CSAT).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kpis.snapshot import KpiValue
from kpis.windows import NOW, WINDOWS
from streams.http.listeners import Listeners
from streams.read.snapshot_reader import Snapshot
from tests.http_servers import accept_everything, not_ready, settings_with
from tests.scorecard_browser import BREACH_RED, OK_GREEN, browser

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, used by name

WATERMARK_US = 1_780_000_000_000_000
SERIES = [
    KpiValue("open_pipeline_value", NOW, {}, 22_480_000.0),
    KpiValue("open_pipeline_value", NOW, {"team": "emea"}, 1_234.0),
    KpiValue("customer_acquisition_cost", "24h", {}, 412.5),
    KpiValue("customer_acquisition_cost", "prev_24h", {}, 312.5),
    KpiValue("mrr", NOW, {}, -1_500.0),  # never negative in practice: the sign's place
    KpiValue("csat", "24h", {}, 0.85),
    KpiValue("csat", "prev_24h", {}, 0.8),
    KpiValue("csat", "24h", {"team": "emea"}, 0.7),
    KpiValue("csat", "prev_24h", {"team": "emea"}, 0.75),
    KpiValue("resolution_time_hours", "24h", {}, 30.0),
    KpiValue("resolution_time_hours", "prev_24h", {}, 36.0),
    KpiValue("churn_rate", "24h", {}, 0.05),
    KpiValue("churn_rate", "prev_24h", {}, 0.04),
    KpiValue("rep_activities", "24h", {}, 40.0),
    KpiValue("rep_activities", "prev_24h", {}, 40.0),
]


async def read_snapshot() -> tuple[Snapshot, dict[str, int]]:
    windows: dict[str, Any] = {NOW: {}} | {window.name: {} for window in WINDOWS}
    return Snapshot(WATERMARK_US, 0, 15, {}, SERIES, [], windows), {}


@contextmanager
def scorecard(currency: str | None) -> Iterator[str]:
    """The page's server, in its own thread and loop (Playwright's sync API owns this one)."""
    settings = settings_with(**({"currency": currency} if currency else {}))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listeners = Listeners.for_settings(settings, read_snapshot, not_ready, accept_everything)
    asyncio.run_coroutine_threadsafe(listeners.start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{settings.http_port}"
    finally:
        asyncio.run_coroutine_threadsafe(listeners.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def opened(browser: Any, url: str) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", color_scheme="light")
    page = context.new_page()
    page.goto(f"{url}/#window=24h")
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    try:
        yield page
    finally:
        context.close()


def tile_text(page: Any, kpi: str, part: str = "value") -> str:
    text: str = page.text_content(f'.tile[data-kpi="{kpi}"] .{part}')
    return text.replace("\u00a0", " ")  # Intl puts a no-break space between code and amount


@pytest.mark.parametrize(
    ("currency", "pipeline", "emea", "cac", "cac_change", "mrr"),
    [
        (None, "$22.5M", "$1.2K", "$412.50", "+$100.00", "-$1.5K"),
        ("EUR", "€22.5M", "€1.2K", "€412.50", "+€100.00", "-€1.5K"),
        ("GBP", "£22.5M", "£1.2K", "£412.50", "+£100.00", "-£1.5K"),
        ("CHF", "CHF 22.5M", "CHF 1.2K", "CHF 412.50", "+CHF 100.00", "-CHF 1.5K"),
        ("JPY", "¥22.5M", "¥1.2K", "¥413", "+¥100", "-¥1.5K"),
    ],
)
def test_amounts_show_the_currency_and_a_compact_form_from_a_thousand(
    browser: Any,
    currency: str | None,
    pipeline: str,
    emea: str,
    cac: str,
    cac_change: str,
    mrr: str,
) -> None:
    with scorecard(currency) as url, opened(browser, url) as page:
        assert tile_text(page, "open_pipeline_value") == pipeline
        assert tile_text(page, "customer_acquisition_cost") == cac
        assert tile_text(page, "customer_acquisition_cost", "delta") == f"▲ {cac_change}"
        assert tile_text(page, "mrr") == mrr
        page.click('.tile[data-kpi="open_pipeline_value"]')
        page.wait_for_selector("#breakdown[open] #bars li")
        bar = page.text_content('#bars li[data-name="emea"] .bar-value').replace("\u00a0", " ")
        assert bar == emea


def test_each_change_is_signed_and_coloured_by_the_kpis_better_direction(browser: Any) -> None:
    with scorecard("EUR") as url, opened(browser, url) as page:
        changes = page.eval_on_selector_all(
            ".tile .delta",
            """nodes => Object.fromEntries(nodes.map(n => [n.closest('.tile').dataset.kpi,
                [n.textContent, n.dataset.verdict, getComputedStyle(n).color]]))""",
        )
        assert changes["csat"][:2] == ["▲ +5.0 pp", "better"]  # higher is better
        assert changes["resolution_time_hours"][:2] == ["▼ -6.0 h", "better"]  # lower is
        assert changes["churn_rate"][:2] == ["▲ +1.0 pp", "worse"]
        assert changes["customer_acquisition_cost"][1] == "worse"  # a dearer customer
        assert changes["rep_activities"][:2] == ["▬ 0", "same"]
        assert changes["open_pipeline_value"][:2] == ["", ""]  # `now`: no previous period
        assert page.get_attribute('.tile[data-kpi="csat"] .delta', "title") == (
            "Change against prev_24h"
        )
        assert {changes[k][2] for k in ("csat", "resolution_time_hours")} == {OK_GREEN}
        assert {changes[k][2] for k in ("churn_rate", "customer_acquisition_cost")} == {BREACH_RED}
        page.click('.tile[data-kpi="csat"]')
        page.wait_for_selector("#breakdown[open] #bars li")
        emea = page.locator('#bars li[data-name="emea"] .delta')
        assert emea.text_content() == "▼ -5.0 pp"
        assert emea.get_attribute("data-verdict") == "worse"
        page.keyboard.press("Escape")
        page.click('.windows button[data-window="1h"]')  # no previous period for the hour
        assert page.text_content('.tile[data-kpi="csat"] .delta') == ""
