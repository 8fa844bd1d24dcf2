"""The periodic review model and its renderings, against numbers worked out by hand and
against the reference implementation's series."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from kpis.catalogue import CATALOGUE
from kpis.review.model import FiredAlert, ReviewError, build_review
from kpis.review.render import to_html, to_json, to_markdown
from kpis.units import USD
from streams.simulate import simulate_history
from tests.reference import Reference, compute_reference


def series(kpi: str, window: str, value: float | None, **labels: str) -> dict[str, object]:
    return {"kpi": kpi, "window": window, "labels": labels, "value": value}


SNAPSHOT = {
    "watermark": "2026-03-30T06:00:00Z",
    "lag": 0,
    "kpis": [
        series("csat", "7d", 0.8),
        series("csat", "prev_7d", 0.75),
        series("csat", "7d", 0.9, team="emea"),
        series("csat", "prev_7d", 0.6, team="emea"),  # +0.30
        series("csat", "7d", 0.7, team="apac"),
        series("csat", "prev_7d", 0.8, team="apac"),  # -0.10
        series("csat", "7d", 0.5, team="amer"),
        series("csat", "prev_7d", 0.5, team="amer"),  # 0: no mover
        series("csat", "7d", None, team="latam"),
        series("csat", "prev_7d", 0.5, team="latam"),  # unknown: no mover
        series("rep_activities", "7d", 40.0),
        series("rep_activities", "prev_7d", 50.0),
        series("rep_activities", "7d", 12.0, rep="rep-01"),  # absent before: 0 -> 12
        series("rep_activities", "7d", 28.0, rep="rep-02"),
        series("rep_activities", "prev_7d", 50.0, rep="rep-02"),  # -22
        series("mrr", "now", 12500.0),
        series("sales_cycle_days", "7d", 20.0),
        series("sales_cycle_days", "prev_7d", 25.0),
        series("csat", "30d", 0.77),
    ],
    "goals": [
        {
            "kpi": "won_amount",
            "window": "mtd",
            "labels": {},
            "target": 100000.0,
            "value": 25000.0,
            "attainment": 0.25,
            "direction": "higher",
            "pace": 0.5,
        }
    ],
    "churn_risk": {"at_risk_by_segment": {"smb": 3, "enterprise": 1}, "customers": []},
}


def simulated_reference() -> Reference:
    """Two months of simulated events (seed 21) replayed by the reference implementation."""
    start = datetime.fromisoformat("2026-02-01T00:00:00+00:00")
    lines = list(simulate_history(seed=21, days=62, start=start, scale=0.2))
    return compute_reference(lines, now=start + timedelta(days=70))


def snapshot_of(reference: Reference) -> dict[str, Any]:
    """A /kpis document holding the reference's series."""
    return {
        "watermark": None if reference.watermark is None else reference.watermark.isoformat(),
        "kpis": [
            {"kpi": kpi, "window": w, "labels": dict(labels), "value": value}
            for (kpi, w, labels), value in reference.series.items()
        ],
    }


def line(review, name):  # type: ignore[no-untyped-def]
    return next(one for one in review.kpis if one.kpi.name == name)


def test_week_reads_7d_against_prev_7d() -> None:
    review = build_review(SNAPSHOT, "week")
    csat = line(review, "csat")
    assert (csat.window, csat.change.value, csat.change.previous) == ("7d", 0.8, 0.75)
    assert csat.change.delta == pytest.approx(0.05)
    assert csat.change.relative == pytest.approx(0.05 / 0.75)
    assert csat.improved is True
    assert [(m.label, m.change.delta) for m in csat.movers] == [
        ("emea", pytest.approx(0.3)),
        ("apac", pytest.approx(-0.1)),
    ]
    cycle = line(review, "sales_cycle_days")
    assert cycle.change.delta == -5.0 and cycle.improved is True  # lower is better


def test_a_count_absent_from_a_window_is_zero_there() -> None:
    activities = line(build_review(SNAPSHOT, "week"), "rep_activities")
    assert [(m.label, m.change.value, m.change.previous) for m in activities.movers] == [
        ("rep-02", 28.0, 50.0),
        ("rep-01", 12.0, 0.0),
    ]
    assert activities.improved is False


def test_a_kpi_without_the_period_window_shows_its_own_window() -> None:
    review = build_review(SNAPSHOT, "week")
    mrr = line(review, "mrr")
    assert (mrr.window, mrr.change.value, mrr.change.previous, mrr.improved) == (
        "now",
        12500.0,
        None,
        None,
    )
    assert line(review, "customer_lifetime_value").window == "30d"


def test_month_reads_30d_and_goals_and_risks() -> None:
    review = build_review(SNAPSHOT, "month")
    csat = line(review, "csat")
    assert (csat.window, csat.change.value, csat.change.previous) == ("30d", 0.77, None)
    assert [(g.kpi, g.attainment, g.pace) for g in review.goals] == [("won_amount", 0.25, 0.5)]
    assert review.at_risk_by_segment == {"enterprise": 1, "smb": 3}


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ReviewError, match="unknown period 'year'"):
        build_review(SNAPSHOT, "year")
    with pytest.raises(ReviewError, match="not a /kpis snapshot"):
        build_review({"kpis": [{"kpi": "csat"}]}, "week")


def test_markdown_rows() -> None:
    text = to_markdown(build_review(SNAPSHOT, "week"), USD)
    assert text.startswith("# Weekly KPI review (7d vs prev_7d, to 2026-03-30T06:00:00Z)")
    assert "| Customer satisfaction (CSAT) | 7d | 80% | 75% | +5.0 pts | +6.7% |" in text
    assert "| Sales cycle | 7d | 20.0 days | 25.0 days | -5.0 days | -20.0% |" in text
    assert "| Monthly recurring revenue (MRR) | now | $12.5k | n/a | n/a | n/a |" in text
    assert "| won_amount (mtd) | $100k | $25k | 25% | 50% |" in text
    assert "| Rep activities | rep=rep-02 | 28 | -22 |" in text
    assert "| smb | 3 |" in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.cells: list[tuple[str | None, str]] = []
        self._css: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br"):
            self.open.append(tag)
        self._css = dict(attrs).get("class")

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "td":
            self.cells.append((self._css, data))


def test_html_is_balanced_and_colours_changes_by_direction() -> None:
    parser = _Tags()
    parser.feed(to_html(build_review(SNAPSHOT, "week"), USD))
    assert parser.open == []
    assert ("better", "-5.0 days") in parser.cells  # sales cycle down: better
    assert ("worse", "-10") in parser.cells  # rep activities down: worse


def test_json_carries_raw_numbers() -> None:
    document = json.loads(json.dumps(to_json(build_review(SNAPSHOT, "week"))))
    csat = next(one for one in document["kpis"] if one["kpi"] == "csat")
    assert csat["value"] == 0.8 and csat["previous"] == 0.75
    assert csat["movers"][0] == {
        "labels": {"team": "emea"},
        "value": 0.9,
        "previous": 0.6,
        "change": pytest.approx(0.3),
    }


@pytest.mark.parametrize(
    ("period", "window", "previous"), [("week", "7d", "prev_7d"), ("month", "30d", "prev_30d")]
)
def test_review_equals_the_reference_series(period: str, window: str, previous: str) -> None:
    reference = simulated_reference()
    snapshot = snapshot_of(reference)
    review = build_review(snapshot, period)
    for kpi in CATALOGUE:
        got = line(review, kpi.name)
        if window not in kpi.windows:
            continue
        missing = 0.0 if kpi.additive else None
        expected = reference.series.get((kpi.name, window, ()), missing)
        before = reference.series.get((kpi.name, previous, ()), missing)
        assert (got.change.value, got.change.previous) == (expected, before), kpi.name
        # Top movers worked out here: every dimension value with a known, non-zero change.
        changes = {}
        for (name, w, labels), _ in reference.series.items():
            if name == kpi.name and w in (window, previous) and labels:
                now = reference.series.get((name, window, labels), missing)
                then = reference.series.get((name, previous, labels), missing)
                if now is not None and then is not None and now != then:
                    changes[labels[0][1]] = now - then
        ranked = sorted(changes.items(), key=lambda item: (-abs(item[1]), item[0]))[:3]
        assert [(m.label, m.change.delta) for m in got.movers] == ranked, kpi.name
    assert any(one.movers for one in review.kpis)


def test_alerts_fired_when_prometheus_was_asked() -> None:
    fired = (FiredAlert("CrmkpiCsatLow", "warning", {"kpi": "csat", "team": "apac"}),)
    text = to_markdown(build_review(SNAPSHOT, "week", alerts=fired), USD)
    assert "| CrmkpiCsatLow | warning | kpi=csat, team=apac |" in text
    assert "| none fired |  |  |" in to_markdown(build_review(SNAPSHOT, "week", alerts=()), USD)
    assert "Alerts fired" not in to_markdown(build_review(SNAPSHOT, "week"), USD)
