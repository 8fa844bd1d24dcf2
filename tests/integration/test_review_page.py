"""`crmkpi review --format html` in Debian's chromium: every table fits the page, nothing
overflows or overlaps, and the numbers shown are the review's. CRMKPI_WRITE_SCREENSHOTS=1
writes the screenshot to docs/review.png (committed)."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kpis.review.model import FiredAlert, Review, build_review
from kpis.review.render import kpi_row, to_html
from kpis.review.sparkline import data_uris, sparklines
from kpis.units import USD
from tests.kpis.test_review import SNAPSHOT, simulated_reference, snapshot_of
from tests.scorecard_browser import browser  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "review.png"

LAYOUT = """() => {
  const page = document.documentElement;
  const boxes = [...document.querySelectorAll('h1, h2, table')].map(e => e.getBoundingClientRect());
  const overlaps = boxes.slice(1).filter((box, i) => box.top < boxes[i].bottom - 0.5).length;
  const cells = [...document.querySelectorAll('td, th')].filter(
    c => c.scrollWidth > c.clientWidth + 1).length;
  const images = [...document.querySelectorAll('img')];
  return {overflow: page.scrollWidth - page.clientWidth, overlaps, clipped: cells,
          rows: [...document.querySelectorAll('tr')].map(r => [...r.cells].map(c => c.innerText)),
          images: images.length,
          loaded: images.filter(i => i.complete && i.naturalWidth > 0).length};
}"""
IDS = [f"cust-{n:04d}" for n in range(25)]


def internal_preview(review: Review) -> tuple[Review, dict[str, str]]:
    """The review with 25 at-risk ids in one segment, shown, and a week's trend per KPI
    (around its value), as `crmkpi review --format html --customer-ids` with Prometheus."""
    trends = {
        line.kpi.name: tuple(line.change.value * (1 + 0.05 * math.sin(day)) for day in range(7))
        for line in review.kpis
        if line.change.value is not None
    }
    ids = {"smb": tuple(IDS), "enterprise": ("cust-9999",)}
    counts = {segment: len(found) for segment, found in ids.items()}
    shown = replace(
        review, at_risk_by_segment=counts, at_risk_ids=ids, customer_ids=True, trends=trends
    )
    return shown, data_uris(sparklines(shown))


@pytest.mark.parametrize("preview", ["plain", "internal with trends"])
def test_the_html_review_lays_out_in_chromium(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    preview: str,
) -> None:
    document = snapshot_of(simulated_reference())
    document["goals"] = SNAPSHOT["goals"]
    document["churn_risk"] = SNAPSHOT["churn_risk"]
    fired = (FiredAlert("CrmkpiCsatLow", "warning", {"kpi": "csat", "window": "24h"}),)
    review = build_review(document, "week", alerts=fired)
    page_file = tmp_path / "review.html"
    images: dict[str, str] = {}
    if preview != "plain":
        review, images = internal_preview(review)
    page_file.write_text(to_html(review, USD, images), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1024, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(page_file.as_uri())
    layout = page.evaluate(LAYOUT)
    assert errors == []
    assert layout["overflow"] <= 0, "the page scrolls sideways"
    assert layout["overlaps"] == 0 and layout["clipped"] == 0
    shown = layout["rows"]
    for line in review.kpis:
        assert kpi_row(line, USD) in [row[:6] for row in shown]
    assert layout["images"] == layout["loaded"] == len(images)
    if preview != "plain":
        assert len(images) >= len(review.kpis) - 2
        assert ["smb", "25", ", ".join(IDS[:20]) + " and 5 more"] in shown
    shot = tmp_path / "review.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("CRMKPI_WRITE_SCREENSHOTS") and preview == "plain":
        DOCS_SCREENSHOT.write_bytes(shot.read_bytes())
    page.close()
