"""The scorecard's content and its fan-out, without a browser: states, breakdowns, diffs, hub."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kpis.catalogue import CATALOGUE
from kpis.goals import parse_goals, progress
from kpis.snapshot import KpiValue
from kpis.thresholds import Threshold, parse_thresholds
from kpis.units import Currency
from kpis.windows import WINDOWS
from streams.http.scorecard.board import Board, build_board, catalogue, changes
from streams.http.scorecard.hub import Hub, Pace
from streams.http.scorecard.states import Judge, SeriesValues, State, state_of
from streams.read.snapshot_reader import Snapshot
from tests.waiting import wait_until_async

LOWER_IS_BETTER = {  # the costs, durations and losses: better when lower
    "customer_acquisition_cost",
    "resolution_time_hours",
    "churn_rate",
    "sales_cycle_days",
}

MONDAY = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp() * 1_000_000)
SATURDAY = int(datetime(2026, 3, 7, 12, tzinfo=UTC).timestamp() * 1_000_000)


def thresholds(*entries: dict[str, Any]) -> tuple[Threshold, ...]:
    filled = [{"severity": "critical", "summary": "s", "runbook": "r", **e} for e in entries]
    return parse_thresholds(json.dumps({"thresholds": filled})).thresholds


def series_states(
    rules: tuple[Threshold, ...],
    kpi: str,
    window: str,
    by_window: dict[str, SeriesValues],
    watermark_us: int,
) -> dict[str, State]:
    """The page's state of each series some threshold crosses."""
    severities = Judge(rules, watermark_us).severities(kpi, window, by_window)
    return {name: state_of(severity) for name, severity in severities.items()}


def snapshot(series: list[KpiValue], watermark_us: int = MONDAY) -> Snapshot:
    return Snapshot(watermark_us, 0, 10, {"schema": 2}, series, [], {})


def test_a_crossed_line_gives_the_state_of_its_severity() -> None:
    by_window = {"30d": {"": 0.7}}
    for severity, state in (("critical", "breach"), ("warning", "warning"), ("info", "warning")):
        rules = thresholds(
            {
                "kpi": "csat",
                "window": "30d",
                "comparison": "below",
                "value": 0.8,
                "severity": severity,
            }
        )
        assert series_states(rules, "csat", "30d", by_window, MONDAY) == {"": state}


def test_a_value_on_the_right_side_or_in_another_window_is_ok() -> None:
    rules = thresholds(
        {"kpi": "csat", "window": "30d", "comparison": "below", "value": 0.8},
        {"kpi": "churn_rate", "window": "30d", "comparison": "above", "value": 0.05},
    )
    assert series_states(rules, "csat", "30d", {"30d": {"": 0.8}}, MONDAY) == {}
    assert series_states(rules, "csat", "7d", {"7d": {"": 0.1}}, MONDAY) == {}
    assert series_states(rules, "churn_rate", "30d", {"30d": {"": 0.06}}, MONDAY) == {"": "breach"}
    assert series_states(rules, "churn_rate", "30d", {"30d": {"": None}}, MONDAY) == {}


def test_a_dimension_filter_matches_whole_values_like_prometheus() -> None:
    rules = thresholds(
        {
            "kpi": "csat",
            "window": "30d",
            "comparison": "below",
            "value": 0.8,
            "dimension": {"team": "em"},
        },
        {
            "kpi": "csat",
            "window": "30d",
            "comparison": "below",
            "value": 0.5,
            "dimension": {"team": "a.*"},
            "name": "CsatOfATeams",
        },
    )
    values = {"30d": {"": 0.4, "emea": 0.4, "apac": 0.4, "amer": 0.6}}
    assert series_states(rules, "csat", "30d", values, MONDAY) == {"apac": "breach"}


def test_idle_flags_a_value_with_none_in_the_window_but_some_over_the_longer_one() -> None:
    rules = thresholds(
        {
            "kpi": "rep_activities",
            "window": "24h",
            "comparison": "idle",
            "over": "7d",
            "dimension": {"rep": ".+"},
            "business_days": True,
            "severity": "info",
        }
    )
    values = {"24h": {"": 5, "rep-1": 5}, "7d": {"": 9, "rep-1": 6, "rep-2": 3}}
    assert series_states(rules, "rep_activities", "24h", values, MONDAY) == {"rep-2": "warning"}
    assert series_states(rules, "rep_activities", "24h", values, SATURDAY) == {}


def test_drops_and_quantiles_are_left_to_prometheus() -> None:
    rules = thresholds(
        {
            "kpi": "nps",
            "window": "30d",
            "comparison": "drop",
            "value": 1,
            "over": "30d",
            "for": "1h",
        },
        {
            "kpi": "resolution_time_hours",
            "window": "7d",
            "comparison": "above",
            "value": 1,
            "quantile": 0.9,
        },
    )
    assert series_states(rules, "nps", "30d", {"30d": {"": -50}}, MONDAY) == {}
    assert series_states(rules, "resolution_time_hours", "7d", {"7d": {"": 99}}, MONDAY) == {}


def test_the_board_has_every_kpi_and_window_with_sorted_bars_and_the_worst_state() -> None:
    series = [
        KpiValue("csat", "30d", {}, 0.9),
        KpiValue("csat", "30d", {"team": "amer"}, 0.95),
        KpiValue("csat", "30d", {"team": "apac"}, None),
        KpiValue("csat", "30d", {"team": "emea"}, 0.6),
        KpiValue("csat", "30d", {"team": "nordics"}, 0.97),
    ]
    rules = thresholds(
        {
            "kpi": "csat",
            "window": "30d",
            "comparison": "below",
            "value": 0.7,
            "dimension": {"team": ".+"},
        }
    )
    board = build_board(snapshot(series), rules)
    assert set(board["tiles"]) == {kpi.name for kpi in CATALOGUE}
    for kpi in CATALOGUE:
        assert set(board["tiles"][kpi.name]) == set(kpi.windows)
    csat = board["tiles"]["csat"]["30d"]
    assert csat["value"] == 0.9
    assert csat["state"] == "breach"  # the overall 0.9 is fine, emea is not
    assert csat["breakdown"] == [
        ["nordics", 0.97, "ok", None, None],
        ["amer", 0.95, "ok", None, None],
        ["emea", 0.6, "breach", None, None],
        ["apac", None, "ok", None, None],
    ]
    assert board["tiles"]["csat"]["7d"] == {
        "value": None,
        "delta": None,
        "state": "ok",
        "goal": None,
        "breakdown": [],
    }
    assert board["status"]["accepted"] == 10 and board["status"]["rejected"] == {"schema": 2}


def test_a_window_with_a_previous_period_carries_its_change_overall_and_per_bar() -> None:
    series = [
        KpiValue("csat", "7d", {}, 0.85),
        KpiValue("csat", "prev_7d", {}, 0.8),
        KpiValue("csat", "7d", {"team": "amer"}, 0.9),
        KpiValue("csat", "prev_7d", {"team": "amer"}, 0.95),
        KpiValue("csat", "7d", {"team": "emea"}, 0.7),  # new this week: no change
        KpiValue("csat", "prev_7d", {"team": "apac"}, 0.5),  # gone this week
        KpiValue("resolution_time_hours", "24h", {}, 30.0),
        KpiValue("resolution_time_hours", "prev_24h", {}, 36.0),
        KpiValue("rep_activities", "1h", {}, 5.0),
        KpiValue("rep_activities", "mtd", {}, 50.0),
    ]
    tiles = build_board(snapshot(series), ())["tiles"]
    week = tiles["csat"]["7d"]
    assert week["delta"] == 0.85 - 0.8
    assert week["breakdown"] == [
        ["amer", 0.9, "ok", 0.9 - 0.95, None],
        ["emea", 0.7, "ok", None, None],
    ]
    assert tiles["resolution_time_hours"]["24h"]["delta"] == -6.0
    # no previous period: the hour, the calendar windows, the previous periods themselves
    assert tiles["rep_activities"]["1h"]["delta"] is None
    assert tiles["rep_activities"]["mtd"]["delta"] is None
    assert tiles["csat"]["prev_7d"]["delta"] is None
    assert tiles["open_pipeline_value"]["now"]["delta"] is None


def test_goals_show_on_the_tile_and_breakdown_of_their_window() -> None:
    series = [
        KpiValue("won_amount", "qtd", {}, 600_000.0),
        KpiValue("won_amount", "qtd", {"rep": "rep-01"}, 130_000.0),
        KpiValue("won_amount", "qtd", {"rep": "rep-03"}, 470_000.0),  # no goal
        KpiValue("csat", "30d", {}, 0.9),
        KpiValue("customer_acquisition_cost", "30d", {"channel": "web"}, 500.0),
    ]
    goals = parse_goals(
        """goals:
  - {kpi: won_amount, window: qtd, target: 1500000}
  - {kpi: won_amount, window: qtd, dimension: {rep: rep-01}, target: 120000}
  - {kpi: won_amount, window: qtd, dimension: {rep: rep-02}, target: 120000}
  - {kpi: csat, window: 30d, target: 0.85}
  - {kpi: customer_acquisition_cost, window: 30d, dimension: {channel: web}, target: 400}
"""
    )
    monday = snapshot(series)
    monday.goals = progress(goals, series, MONDAY)
    # judged on the snapshot's series only: rep-02 has none, so no line is crossed for it
    low = thresholds(
        {
            "kpi": "won_amount",
            "window": "qtd",
            "comparison": "below",
            "value": 1.0,
            "dimension": {"rep": ".+"},
        }
    )
    tiles = build_board(monday, low)["tiles"]
    elapsed = (31 + 28 + 1.5) / 90  # Monday 2 March 2026, noon UTC, in Q1 (90 days)
    quarter = tiles["won_amount"]["qtd"]
    assert quarter["goal"] == {
        "target": 1_500_000.0,
        "attainment": 0.4,
        "pace": 0.4 / elapsed,
        "on_track": False,  # 40 % two thirds of the way through
    }
    assert quarter["breakdown"] == [
        ["rep-03", 470_000.0, "ok", None, None],
        [
            "rep-01",
            130_000.0,
            "ok",
            None,
            {
                "target": 120_000.0,
                "attainment": 130 / 120,
                "pace": 130 / 120 / elapsed,
                "on_track": True,
            },
        ],
        # a quota and nothing won yet: 0, listed
        [
            "rep-02",
            0.0,
            "ok",
            None,
            {"target": 120_000.0, "attainment": 0.0, "pace": 0.0, "on_track": False},
        ],
    ]
    assert tiles["won_amount"]["30d"]["goal"] is None  # the quarter's goal is on qtd only
    assert tiles["csat"]["30d"]["goal"] == {
        "target": 0.85,
        "attainment": 0.9 / 0.85,
        "on_track": True,
    }
    cac = tiles["customer_acquisition_cost"]["30d"]
    assert cac["goal"] is None
    assert cac["breakdown"] == [
        ["web", 500.0, "ok", None, {"target": 400.0, "attainment": 0.8, "on_track": False}]
    ]


def test_the_catalogue_tells_the_page_each_kpis_currency_and_better_direction() -> None:
    shown = {kpi["name"]: kpi for kpi in catalogue(Currency("EUR"))}
    assert shown["mrr"]["format"]["currency"] == "EUR"
    assert shown["customer_acquisition_cost"]["format"]["currency"] == "EUR"
    assert shown["csat"]["format"]["currency"] is None
    assert {name for name, kpi in shown.items() if kpi["better"] == "lower"} == LOWER_IS_BETTER
    assert {kpi["better"] for kpi in shown.values()} == {"lower", "higher"}
    assert set(shown) >= LOWER_IS_BETTER  # every name in the mapping is a catalogue KPI


def test_only_changed_tiles_are_pushed() -> None:
    before = build_board(snapshot([KpiValue("csat", "30d", {}, 0.9)]), ())
    after = build_board(snapshot([KpiValue("csat", "30d", {}, 0.8)]), ())
    assert changes(before, before) == {}
    changed = changes(before, after)
    assert set(changed) == {"tiles"} and set(changed["tiles"]) == {"csat"}


class CountingReader:
    """A board source that counts its reads (stands in for the snapshot)."""

    def __init__(self) -> None:
        self.reads = 0

    async def __call__(self) -> Board:
        self.reads += 1
        return build_board(snapshot([KpiValue("rep_activities", "1h", {}, self.reads)]), ())


def events_of(messages: list[bytes | None]) -> list[str]:
    return [m.split(b"\n", 1)[0].removeprefix(b"event: ").decode() for m in messages if m]


async def test_fifty_pages_cost_one_read_per_tick() -> None:
    reader = CountingReader()
    hub = Hub(reader, {"catalogue": []}, Pace(min_interval=0.05, sample_every=0.0))
    queues = [await hub.subscribe() for _ in range(50)]
    await asyncio.sleep(0.5)  # the scenario: 0.5 s of ticks, about 10
    received = [[queue.get_nowait() for _ in range(queue.qsize())] for queue in queues]
    await hub.close()
    assert 5 <= reader.reads <= 12  # about one read per 0.05 s tick, not one per page
    for queue, messages in zip(queues, received, strict=True):
        kinds = events_of(messages)
        assert kinds[0] == "board" and "update" in kinds and "sample" in kinds
        assert queue.get_nowait() is None  # the stream ends with the server


async def test_a_page_that_falls_behind_is_dropped() -> None:
    hub = Hub(CountingReader(), {}, Pace(min_interval=0.01, backlog=3))
    stuck = await hub.subscribe()

    async def dropped() -> bool:
        return stuck not in hub.clients

    assert await wait_until_async(dropped, "the page that fell behind dropped")
    assert [stuck.get_nowait()] == [None]
    await hub.close()


def test_the_page_offers_every_window_of_the_catalogue() -> None:
    web = Path(__file__).parents[3] / "streams" / "http" / "scorecard" / "web"
    buttons = re.findall(r'data-window="([^"]+)"', (web / "index.html").read_text())
    script = re.search(r"const WINDOWS = \[([^\]]*)\]", (web / "scorecard.js").read_text())
    assert script is not None
    names = [window.name for window in WINDOWS]
    assert buttons == names
    assert re.findall(r'"([^"]+)"', script.group(1)) == names
