"""The scorecard page in a real browser, against a monitor fed by the simulator.

One monitor per module: a worker on a fresh broker with a 4-day simulated history,
compared with the independent reference before the browser looks at it. The
thresholds file is written from the reference values, so that the batches sent
later push `rep_activities` over a critical line. The goals file (won amount over 24h
and the quarter to date, overall and per rep) is the test's own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kpis.catalogue import CATALOGUE
from streams.config import Settings
from streams.http.scorecard.board import GROUPS
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.producer import CrmProducer
from streams.kafka.sync_producer import SyncCrmProducer
from streams.simulate import Anomalies, simulate_history
from tests.conftest import free_port
from tests.processes import (
    crmkpi_env,
    crmkpi_process,
    get_json,
    run_crmkpi,
    wait_idle,
    wait_until_ready,
)
from tests.reference import Reference, compare_snapshot, compute_reference
from tests.scorecard_browser import (
    BREACH_RED,
    OK_GREEN,
    WARNING_ORANGE,
    browser,
    shown_matches,
)
from tests.waiting import wait_until

LOWER_IS_BETTER = {  # the costs, durations and losses: better when lower
    "customer_acquisition_cost",
    "resolution_time_hours",
    "churn_rate",
    "sales_cycle_days",
}

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, used by name

SEED, DAYS = 11, 4  # 5 to 8 January 2026: the first days of Q1
DAY_GOAL, QUARTER_GOAL = 100_000.0, 1_000_000.0  # won amount, overall
HOUR_GOAL = 40.0  # rep activities in the last hour, overall
REP_QUOTAS = {"rep-07": 20_000.0, "rep-06": 120_000.0, "rep-11": 300_000.0, "rep-01": 50_000.0}
MARGIN = 3  # rep_activities 1h may grow by this much before the critical line
ARROWS = {"up": "\u25b2", "down": "\u25bc", "flat": "\u25ac"}


@dataclass
class Monitor:
    url: str
    bootstrap: str
    reference: Reference
    env: dict[str, str]
    log: Path
    process: Any = None
    context: Any = None

    def start(self) -> None:
        self.context = crmkpi_process(["worker"], self.env, self.log)
        self.process = self.context.__enter__()
        wait_until_ready(self.url, self.process)

    def stop(self) -> None:
        self.context.__exit__(None, None, None)

    def kpis(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = get_json(f"{self.url}/kpis")
        return snapshot


def overall(snapshot: dict[str, Any], kpi: str, window: str) -> float | None:
    for series in snapshot["kpis"]:
        if series["kpi"] == kpi and series["window"] == window and not series["labels"]:
            value: float | None = series["value"]
            return value
    raise KeyError((kpi, window))


def thresholds_yaml(reference: Reference) -> str:
    activities = reference.value("rep_activities", "1h")
    csat = reference.value("csat", "24h")
    assert activities is not None and csat is not None
    entries = [
        {
            "kpi": "rep_activities",
            "window": "1h",
            "comparison": "above",
            "value": activities + MARGIN,
            "severity": "critical",
            "summary": "busy hour",
            "runbook": "none",
        },
        {
            "kpi": "csat",
            "window": "24h",
            "comparison": "below",
            "value": csat + 0.01,
            "severity": "warning",
            "summary": "csat low",
            "runbook": "none",
        },
    ]
    return json.dumps({"thresholds": entries})  # YAML is a superset of JSON


def goals_yaml() -> str:
    entries = [
        {"kpi": "won_amount", "window": "24h", "target": DAY_GOAL},
        {"kpi": "won_amount", "window": "qtd", "target": QUARTER_GOAL},
        {"kpi": "rep_activities", "window": "1h", "target": HOUR_GOAL},
    ] + [
        {"kpi": "won_amount", "window": "qtd", "dimension": {"rep": rep}, "target": quota}
        for rep, quota in REP_QUOTAS.items()
    ]
    return json.dumps({"goals": entries})


def quarter_elapsed(at: datetime) -> float:
    """The elapsed fraction of the UTC calendar quarter containing `at`."""
    start = datetime(at.year, at.month - (at.month - 1) % 3, 1, tzinfo=UTC)
    end = (start + timedelta(days=100)).replace(day=1)
    return (at - start) / (end - start)


def percent(fraction: float) -> str:
    return f"{fraction * 100:,.0f}%"  # en-US: 1,637%


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    tmp = tmp_path_factory.mktemp("scorecard")
    lines = list(simulate_history(SEED, DAYS, anomalies=Anomalies.none()))
    history = tmp / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    reference = compute_reference(lines, datetime.now(UTC))
    thresholds = tmp / "thresholds.yaml"
    thresholds.write_text(thresholds_yaml(reference))
    goals = tmp / "goals.yaml"
    goals.write_text(goals_yaml())
    with EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=tmp / "tansu.log") as broker:
        port = free_port()
        env = crmkpi_env(
            broker.bootstrap,
            port,
            CRMKPI_THRESHOLDS_FILE=str(thresholds),
            CRMKPI_GOALS_FILE=str(goals),
            CRMKPI_CURRENCY="EUR",
        )
        found = Monitor(f"http://127.0.0.1:{port}", broker.bootstrap, reference, env, tmp / "w.log")
        found.start()
        try:
            result = run_crmkpi(["produce", str(history)], crmkpi_env(broker.bootstrap, 0))
            assert result.returncode == 0, result.stderr
            snapshot = wait_idle(found.url, accepted_at_least=reference.accepted)
            assert compare_snapshot(reference, snapshot) == []
            yield found
        finally:
            found.stop()


@pytest.fixture
def page(browser: Any, monitor: Monitor) -> Iterator[Any]:
    """A fresh page on the scorecard; every request to anything but the monitor is refused."""
    context = browser.new_context(
        locale="en-US", color_scheme="light", viewport={"width": 1400, "height": 1000}
    )
    external: list[str] = []

    def only_the_monitor(route: Any) -> None:
        if route.request.url.startswith(monitor.url + "/"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_monitor)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{monitor.url}/#window=24h")
    opened.wait_for_selector("body[data-ready=true]", timeout=10_000)
    opened.external_requests = external
    yield opened
    context.close()
    assert errors == []
    assert external == []


def tiles(page: Any) -> dict[str, dict[str, str]]:
    """Every tile's KPI -> window, state, data-value and text, read from the DOM."""
    found: dict[str, dict[str, str]] = page.eval_on_selector_all(
        ".tile",
        """tiles => Object.fromEntries(tiles.map(t => [t.dataset.kpi, {
            window: t.dataset.window, state: t.dataset.state,
            value: t.querySelector('.value').dataset.value,
            text: t.querySelector('.value').textContent,
            group: t.closest('section').dataset.group}]))""",
    )
    return found


def as_value(attribute: str) -> float | None:
    return None if attribute == "" else float(attribute)


def choose_window(page: Any, window: str) -> None:
    page.click(f'.windows button[data-window="{window}"]')
    page.wait_for_selector(f'.windows button[data-window="{window}"][aria-checked="true"]')


def send_activities(monitor: Monitor, count: int, tag: str) -> None:
    """`count` activities by a new rep at the watermark: rep_activities 1h grows by `count`."""
    assert monitor.reference.watermark is not None
    at = monitor.reference.watermark.strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [
        {
            "event_id": f"scorecard-{tag}-{n}",
            "type": "activity.logged",
            "occurred_at": at,
            "activity_id": f"act-scorecard-{tag}-{n}",
            "kind": "call",
            "rep": "rep-scorecard",
            "team": "emea",
        }
        for n in range(count)
    ]
    with SyncCrmProducer(CrmProducer(Settings(kafka_bootstrap=monitor.bootstrap))) as producer:
        report = producer.send_lines(json.dumps(event).encode() for event in events)
    assert report.total_rejected == 0


def test_every_catalogue_kpi_has_a_tile_in_its_group(page: Any) -> None:
    shown = page.eval_on_selector_all(
        "section.group",
        """groups => groups.map(g => [g.dataset.group, [...g.querySelectorAll('.tile')]
            .map(t => [t.dataset.kpi, t.querySelector('.name').textContent])])""",
    )
    assert [group for group, _ in shown] == list(GROUPS)
    for group, in_group in shown:
        assert in_group == [[kpi.name, kpi.title] for kpi in CATALOGUE if kpi.group == group]


def test_tiles_show_the_values_of_kpis_for_the_selected_window(page: Any, monitor: Monitor) -> None:
    snapshot = monitor.kpis()
    texts_by_window = {}
    for window in ("1h", "24h", "7d", "30d"):
        choose_window(page, window)
        shown = tiles(page)
        for kpi in CATALOGUE:
            expected_window = window if window in kpi.windows else kpi.windows[-1]
            tile = shown[kpi.name]
            expected = overall(snapshot, kpi.name, expected_window)
            assert tile["window"] == expected_window
            assert as_value(tile["value"]) == expected, (kpi.name, window)
            assert shown_matches(kpi.unit, tile["text"], expected), (kpi.name, tile["text"])
        texts_by_window[window] = {name: tile["text"] for name, tile in shown.items()}
    changed = [
        k for k in texts_by_window["1h"] if texts_by_window["1h"][k] != texts_by_window["24h"][k]
    ]
    assert len(changed) >= 5, changed
    assert page.evaluate("location.hash") == "#window=30d"


def test_amounts_are_shown_in_the_configured_currency(page: Any, monitor: Monitor) -> None:
    choose_window(page, "30d")
    shown = tiles(page)
    money = [kpi for kpi in CATALOGUE if kpi.unit == "currency"]
    assert money
    for kpi in money:
        tile = shown[kpi.name]
        expected = monitor.reference.value(kpi.name, tile["window"])
        assert tile["text"].startswith("€") and "$" not in tile["text"], tile["text"]
        assert shown_matches("currency", tile["text"], expected), (kpi.name, tile["text"])


def test_each_tile_shows_its_change_against_the_previous_period_coloured_by_direction(
    page: Any, monitor: Monitor
) -> None:
    choose_window(page, "24h")
    changes = page.eval_on_selector_all(
        ".tile .delta",
        """nodes => Object.fromEntries(nodes.map(n => [n.closest('.tile').dataset.kpi, {
            delta: n.dataset.delta, trend: n.dataset.trend, verdict: n.dataset.verdict,
            text: n.textContent, colour: getComputedStyle(n).color}]))""",
    )
    colours = {"better": OK_GREEN, "worse": BREACH_RED}
    verdicts = set()
    for kpi in CATALOGUE:
        change = changes[kpi.name]
        if "24h" not in kpi.windows:
            assert change["delta"] == "" and change["text"] == "", kpi.name
            continue
        now = monitor.reference.value(kpi.name, "24h")
        before = monitor.reference.value(kpi.name, "prev_24h")
        if now is None or before is None:
            assert change["delta"] == "", kpi.name
            continue
        expected = now - before
        assert float(change["delta"]) == pytest.approx(expected, rel=1e-9, abs=1e-9), kpi.name
        trend = "up" if expected > 0 else "down" if expected < 0 else "flat"
        assert change["trend"] == trend and change["text"][0] == ARROWS[trend], kpi.name
        sign = "+" if expected > 0 else "-" if expected < 0 else ""
        assert change["text"][2:].startswith(sign), (kpi.name, change["text"])
        improving = "down" if kpi.name in LOWER_IS_BETTER else "up"
        verdict = "same" if trend == "flat" else "better" if trend == improving else "worse"
        assert change["verdict"] == verdict, kpi.name
        if verdict in colours:
            assert change["colour"] == colours[verdict], kpi.name
        verdicts.add(verdict)
    assert {"better", "worse"} <= verdicts  # the simulated day improves some, worsens others


def goal_of(page: Any, selector: str) -> dict[str, str]:
    """The goal progress under `selector`: its data attributes, text and colour."""
    found: dict[str, str] = page.eval_on_selector(
        f"{selector} .goal",
        """n => ({...n.dataset, text: n.querySelector('.goal-text').textContent,
            colour: getComputedStyle(n.querySelector('.goal-text')).color,
            fill: n.querySelector('.goal-fill').style.width})""",
    )
    found["text"] = found["text"].replace("\u00a0", " ")
    return found


def test_a_tile_shows_its_change_and_its_goals_progress_in_the_goals_window(
    page: Any, monitor: Monitor
) -> None:
    reference = monitor.reference
    won = '.tile[data-kpi="won_amount"]'
    choose_window(page, "24h")
    day = reference.value("won_amount", "24h")
    before = reference.value("won_amount", "prev_24h")
    assert day is not None and before is not None and day > before
    assert float(page.get_attribute(f"{won} .delta", "data-delta")) == pytest.approx(day - before)
    assert page.text_content(f"{won} .delta") == f"▲ +€{(day - before) / 1000:.1f}K"
    goal = goal_of(page, won)
    attained = day / DAY_GOAL
    assert attained < 1
    assert float(goal["attainment"]) == pytest.approx(attained, rel=1e-12)
    assert goal["pace"] == ""  # a sliding window has no pace
    assert goal["text"] == f"{percent(attained)} of €100K goal"
    assert goal["verdict"] == "behind" and goal["colour"] == WARNING_ORANGE
    assert float(goal["fill"].removesuffix("%")) == pytest.approx(attained * 100)

    choose_window(page, "7d")  # no goal for the week: nothing shown
    assert goal_of(page, won)["text"] == ""

    choose_window(page, "qtd")
    assert reference.watermark is not None
    quarter = reference.value("won_amount", "qtd")
    assert quarter is not None
    attained = quarter / QUARTER_GOAL
    paced = attained / quarter_elapsed(reference.watermark)
    goal = goal_of(page, won)
    assert float(goal["attainment"]) == pytest.approx(attained, rel=1e-12)
    assert float(goal["pace"]) == pytest.approx(paced, rel=1e-6)
    assert goal["text"] == f"{percent(attained)} of €1M goal · pace {percent(paced)}"
    assert goal["verdict"] == ("on-track" if paced >= 1 else "behind")
    label = page.get_attribute(won, "aria-label")
    assert label is not None and goal["text"] in label


def test_the_breakdown_lists_each_reps_attainment_and_pace(page: Any, monitor: Monitor) -> None:
    reference = monitor.reference
    assert reference.watermark is not None
    elapsed = quarter_elapsed(reference.watermark)
    choose_window(page, "qtd")
    page.click('.tile[data-kpi="won_amount"]')
    page.wait_for_selector("#breakdown[open] #bars li")
    assert "of €1M goal" in page.text_content("#breakdown-total")
    names = page.eval_on_selector_all("#bars li", "items => items.map(i => i.dataset.name)")
    assert set(REP_QUOTAS) <= set(names)
    colours = {"on-track": OK_GREEN, "behind": WARNING_ORANGE}
    verdicts = set()
    for name in names:
        goal = goal_of(page, f'#bars li[data-name="{name}"]')
        if name not in REP_QUOTAS:
            assert goal["target"] == "" and goal["text"] == "", name
            continue
        value = reference.value("won_amount", "qtd", rep=name)
        assert value is not None
        attained, quota = value / REP_QUOTAS[name], REP_QUOTAS[name]
        paced = attained / elapsed
        assert float(goal["target"]) == quota
        assert float(goal["attainment"]) == pytest.approx(attained, rel=1e-12), name
        assert float(goal["pace"]) == pytest.approx(paced, rel=1e-6), name
        assert goal["text"] == (
            f"{percent(attained)} of €{quota / 1000:g}K goal · pace {percent(paced)}"
        ), name
        verdict = "on-track" if paced >= 1 else "behind"
        assert goal["verdict"] == verdict and goal["colour"] == colours[verdict], name
        verdicts.add(verdict)
    assert verdicts == {"on-track", "behind"}
    assert page.is_visible('#bars li[data-name="rep-07"] .goal')


def test_tile_states_follow_the_thresholds_file(page: Any, monitor: Monitor) -> None:
    choose_window(page, "24h")
    states = {name: tile["state"] for name, tile in tiles(page).items()}
    # csat 24h is below its warning line (reference + 0.01); no other 24h threshold
    assert states == {kpi.name: "warning" if kpi.name == "csat" else "ok" for kpi in CATALOGUE}
    choose_window(page, "1h")
    assert tiles(page)["rep_activities"]["state"] == "ok"


def test_status_shows_watermark_lag_and_event_counts(page: Any, monitor: Monitor) -> None:
    reference = monitor.reference
    assert reference.watermark is not None
    assert page.text_content("#watermark").startswith(
        reference.watermark.strftime("%Y-%m-%d %H:%M:%S")
    )
    assert page.text_content("#lag") == "0"
    assert page.text_content("#accepted") == f"{reference.accepted:,}"
    assert page.text_content("#rejected") == "0"


def test_a_click_on_a_tile_shows_its_dimension_as_a_sorted_bar_list(
    page: Any, monitor: Monitor
) -> None:
    choose_window(page, "7d")
    page.click('.tile[data-kpi="csat"]')
    page.wait_for_selector("#breakdown[open] #bars li")
    assert "by team, 7d" in page.text_content("#breakdown-title")
    bars = page.eval_on_selector_all(
        "#bars li",
        "items => items.map(i => [i.dataset.name, i.querySelector('.bar-value').dataset.value])",
    )
    expected = {
        series["labels"]["team"]: series["value"]
        for series in monitor.kpis()["kpis"]
        if series["kpi"] == "csat" and series["window"] == "7d" and series["labels"]
    }
    assert {name: as_value(value) for name, value in bars} == expected
    values = [as_value(value) or 0.0 for _, value in bars]
    assert values == sorted(values, reverse=True) and len(values) >= 2


def test_churn_risk_customers_are_listed_with_customer_satisfaction(
    page: Any, monitor: Monitor
) -> None:
    churn = monitor.kpis()["churn_risk"]
    card = page.locator('section[data-group="Customer satisfaction"] #churn')
    rows = card.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert len(rows) >= 1
    assert rows == [
        [c["customer_id"], c["segment"], ", ".join(c["signals"])] for c in churn["customers"]
    ]
    assert card.locator("#churn-count").text_content() == str(len(churn["customers"]))


def test_the_page_loads_with_every_other_host_blocked(page: Any) -> None:
    # The fixture refuses any request not for the monitor; the page still rendered.
    assert page.external_requests == []
    assert page.locator(".tile").count() == len(CATALOGUE)
    assert page.text_content("#connection") == "live"


def test_a_new_batch_changes_a_tile_within_2s_without_reload(page: Any, monitor: Monitor) -> None:
    from playwright.sync_api import expect

    choose_window(page, "1h")
    before = as_value(tiles(page)["rep_activities"]["value"])
    assert before == monitor.reference.value("rep_activities", "1h")
    page.evaluate("window.notReloaded = true")
    send_activities(monitor, MARGIN - 1, "first")
    sent = time.monotonic()
    # A locator assertion, not wait_for_function: the page's CSP forbids evaluating strings.
    expect(page.locator(".tile[data-kpi=rep_activities] .value")).to_have_attribute(
        "data-value", f"{before + MARGIN - 1:g}", timeout=2_000
    )
    print(f"tile changed {time.monotonic() - sent:.2f}s after the batch was acknowledged")
    attained = (before + MARGIN - 1) / HOUR_GOAL  # the goal's progress comes with the tile
    expect(page.locator(".tile[data-kpi=rep_activities] .goal")).to_have_attribute(
        "data-attainment", repr(attained).removesuffix(".0")
    )
    assert page.evaluate("window.notReloaded") is True
    assert tiles(page)["rep_activities"]["state"] == "ok"  # still within the line


def test_a_threshold_breach_turns_the_tile_state_to_breach(page: Any, monitor: Monitor) -> None:
    choose_window(page, "1h")
    assert tiles(page)["rep_activities"]["state"] == "ok"
    send_activities(monitor, 2, "second")  # now MARGIN + 1 above the reference: over the line
    page.wait_for_selector('.tile[data-kpi="rep_activities"][data-state="breach"]', timeout=2_000)
    expected = monitor.reference.value("rep_activities", "1h")
    assert expected is not None
    assert overall(monitor.kpis(), "rep_activities", "1h") == expected + MARGIN + 1


def test_the_page_reconnects_after_a_server_restart(page: Any, monitor: Monitor) -> None:
    page.wait_for_selector('#connection[data-connection="live"]')
    monitor.stop()
    page.wait_for_selector('#connection[data-connection="reconnecting"]', timeout=5_000)
    page.evaluate("document.body.dataset.ready = 'false'")
    monitor.start()
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    page.wait_for_selector('#connection[data-connection="live"]')
    choose_window(page, "24h")

    def differences() -> list[str]:
        """Tiles whose value is not the monitor's: the restarted worker publishes its
        partitions as it recovers them, after it answers, and the page follows."""
        snapshot = monitor.kpis()
        return [
            name
            for name, tile in tiles(page).items()
            if as_value(tile["value"]) != overall(snapshot, name, tile["window"])
        ]

    wait_until(differences, "the page to show every recovered KPI", lambda found: found == [])
