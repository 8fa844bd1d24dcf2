"""The CRM simulator: deterministic, canonical (EVENTS.md), valid per entity (KPIS.md), realistic.

Reference checks here are written from the specs, independently of the simulator:
a small reference monitor classifies each line as accepted or rejected with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest

from streams.simulate import DEFAULT_START, Anomalies, simulate_history
from streams.simulate.service import REOPEN_WITHIN, reopenings
from streams.simulate.worktime import BusinessCalendar
from streams.simulate.world import new_world

DAY = timedelta(days=1)
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")

# EVENTS.md: type -> (entity key, required fields, optional fields)
TYPES: dict[str, tuple[str, set[str], set[str]]] = {
    "lead.created": ("lead_id", {"channel"}, {"campaign_id"}),
    "lead.contacted": ("lead_id", {"rep", "team"}, set()),
    "lead.qualified": ("lead_id", set(), set()),
    "lead.converted": ("lead_id", set(), {"customer_id"}),
    "opportunity.created": (
        "opportunity_id",
        {"amount", "stage", "rep", "team"},
        {"channel", "lead_id"},
    ),
    "opportunity.stage_changed": ("opportunity_id", {"stage"}, {"amount"}),
    "opportunity.won": ("opportunity_id", set(), {"amount"}),
    "opportunity.lost": ("opportunity_id", set(), {"reason"}),
    "activity.logged": ("activity_id", {"kind", "rep", "team"}, {"lead_id", "opportunity_id"}),
    "customer.subscribed": ("customer_id", {"segment", "channel", "mrr"}, set()),
    "customer.renewed": ("customer_id", set(), {"mrr"}),
    "customer.churned": ("customer_id", set(), {"reason"}),
    "ticket.opened": ("ticket_id", {"team", "priority"}, {"customer_id"}),
    "ticket.replied": ("ticket_id", {"author"}, set()),
    "ticket.resolved": ("ticket_id", set(), set()),
    "ticket.reopened": ("ticket_id", set(), set()),
    "survey.csat": ("response_id", {"score", "team"}, {"customer_id", "ticket_id"}),
    "survey.nps": ("response_id", {"score", "segment"}, {"customer_id"}),
    "marketing.spend": ("spend_id", {"channel", "amount"}, {"campaign_id"}),
}
MONEY = {"amount", "mrr"}
SCORES = {"survey.csat": range(1, 6), "survey.nps": range(11)}
CHOICES = {"priority": {"low", "normal", "high", "urgent"}, "author": {"agent", "customer"}}
REJECTIONS = ("invalid_json", "schema", "future_timestamp", "unknown_entity", "invalid_transition")


def schema_problem(event: object) -> str | None:
    """Why `event` is not a canonical event of EVENTS.md, or None."""
    if not isinstance(event, dict):
        return "not an object"
    kind = event.get("type")
    if kind not in TYPES:
        return f"unknown type {kind!r}"
    key, required, optional = TYPES[kind]
    for name in ("event_id", "occurred_at", key, *required):
        if name not in event:
            return f"missing {name}"
    if not isinstance(event["occurred_at"], str) or not TIME.match(event["occurred_at"]):
        return f"occurred_at {event.get('occurred_at')!r}"
    for name in {"event_id", key, *required, *optional} & event.keys():
        value = event[name]
        if name in MONEY:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        elif name == "score":
            ok = isinstance(value, int) and not isinstance(value, bool) and value in SCORES[kind]
        else:
            ok = isinstance(value, str) and 0 < len(value) <= 128
            ok = ok and value in CHOICES.get(name, {value})
        if not ok:
            return f"{name} {value!r}"
    return None


class ReferenceMonitor:
    """EVENTS.md rejection reasons in their order, and the KPIS.md entity transitions."""

    def __init__(self, wall_clock: datetime) -> None:
        self.wall_clock = wall_clock
        self.accepted_ids: set[str] = set()
        self.state: dict[tuple[str, str], str] = {}
        self.watermark = datetime.min.replace(tzinfo=UTC)
        self.late: list[timedelta] = []

    def offer(self, line: str) -> str | None:
        """The rejection reason of `line`, or None when it is accepted (and applied)."""
        try:
            event = json.loads(line)
        except ValueError:
            return "invalid_json"
        if schema_problem(event):
            return "schema"
        occurred = datetime.fromisoformat(event["occurred_at"])
        if occurred > self.wall_clock + timedelta(hours=1):
            return "future_timestamp"
        if event["event_id"] in self.accepted_ids:
            return "duplicate"
        reason = self.transition(event)
        if reason is None:
            self.accepted_ids.add(event["event_id"])
            if occurred < self.watermark:
                self.late.append(self.watermark - occurred)
            self.watermark = max(self.watermark, occurred)
        return reason

    def transition(self, event: dict[str, object]) -> str | None:
        """Apply the event to its entity, or say why the entity's state refuses it."""
        domain, action = str(event["type"]).split(".")
        if domain in ("activity", "survey", "marketing"):
            return None
        key = (domain, str(event[TYPES[str(event["type"])][0]]))
        current = self.state.get(key)
        if action in ("created", "opened", "subscribed"):
            if current is not None:
                return "invalid_transition"
            self.state[key] = "open"
            return None
        if current is None:
            return "unknown_entity"
        allowed, after = TRANSITIONS[(domain, action)]
        if current not in allowed:
            return "invalid_transition"
        self.state[key] = after or current
        return None


# (domain, action) -> (states it is allowed in, state after it; None = unchanged)
TRANSITIONS: dict[tuple[str, str], tuple[set[str], str | None]] = {
    ("lead", "contacted"): ({"open", "qualified", "converted"}, None),
    ("lead", "qualified"): ({"open"}, "qualified"),
    ("lead", "converted"): ({"open", "qualified"}, "converted"),
    ("opportunity", "stage_changed"): ({"open"}, None),
    ("opportunity", "won"): ({"open"}, "closed"),
    ("opportunity", "lost"): ({"open"}, "closed"),
    ("customer", "renewed"): ({"open"}, None),
    ("customer", "churned"): ({"open"}, "churned"),
    ("ticket", "replied"): ({"open"}, None),
    ("ticket", "resolved"): ({"open"}, "resolved"),
    ("ticket", "reopened"): ({"resolved"}, "open"),
}


def occurred_at(line: str) -> datetime:
    return datetime.fromisoformat(json.loads(line)["occurred_at"])


def reasons(lines: Iterable[str], wall_clock: datetime) -> tuple[Counter[str], ReferenceMonitor]:
    monitor = ReferenceMonitor(wall_clock)
    counts = Counter(monitor.offer(line) or "accepted" for line in lines)
    return counts, monitor


@pytest.fixture(scope="module")
def history() -> list[str]:
    """60 clean days at scale 1 (also the source of the 30-day checks)."""
    return list(simulate_history(1, 60, anomalies=Anomalies.none()))


@pytest.fixture(scope="module")
def events(history: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in history]


def test_the_same_seed_gives_byte_identical_output() -> None:
    assert list(simulate_history(5, 5)) == list(simulate_history(5, 5))


def test_different_seeds_give_different_output() -> None:
    assert list(simulate_history(5, 3)) != list(simulate_history(6, 3))


def test_every_event_type_appears_within_30_days(events: list[dict[str, object]]) -> None:
    end = (DEFAULT_START + 30 * DAY).isoformat().replace("+00:00", "Z")
    seen = {event["type"] for event in events if str(event["occurred_at"]) < end}
    assert seen == set(TYPES)


def test_every_line_is_a_canonical_event_from_the_simulator(
    events: list[dict[str, object]],
) -> None:
    problems = [(event, schema_problem(event)) for event in events if schema_problem(event)]
    assert problems == []
    assert {event["source"] for event in events} == {"simulator"}
    assert len({event["event_id"] for event in events}) == len(events)


def test_a_clean_history_is_accepted_whole_in_valid_entity_order(history: list[str]) -> None:
    counts, monitor = reasons(history, DEFAULT_START + 60 * DAY)
    assert counts == Counter({"accepted": len(history)})
    assert monitor.late == []  # in occurred_at order


def test_tickets_are_reopened_within_28_days_of_their_resolution(
    events: list[dict[str, object]],
) -> None:
    """Later, the monitor may have forgotten the ticket (KPIS.md, grace period of 31+ days)."""
    resolved: dict[object, datetime] = {}
    waits = []
    for event in events:
        moment = datetime.fromisoformat(str(event["occurred_at"]))
        if event["type"] == "ticket.resolved":
            resolved[event["ticket_id"]] = moment
        elif event["type"] == "ticket.reopened":
            waits.append(moment - resolved[event["ticket_id"]])
    assert len(waits) >= 100
    assert timedelta(seconds=REOPEN_WITHIN) == 28 * DAY >= max(waits)


class FarTail(Random):
    """Every chance taken; every log-normal draw `sigmas` standard deviations out."""

    def __init__(self, sigmas: float) -> None:
        super().__init__(0)
        self.sigmas = sigmas

    def random(self) -> float:
        return 0.0

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return mu + self.sigmas * sigma


@pytest.mark.parametrize(("sigmas", "reopened"), [(0.0, True), (3.0, True), (3.6, False)])
def test_a_ticket_resolved_longer_ago_than_28_days_is_never_reopened(
    sigmas: float, reopened: bool
) -> None:
    """Even on a draw in the tail (20 hours x e**3.6 is 30 days), which a history of 90 days
    met in about one seed in ten."""
    world = new_world(1, 1.0, BusinessCalendar(), "t")
    world.rng = FarTail(sigmas)
    steps = reopenings(world, "tkt-1", "emea", "urgent", 0, 1.0, 0.3)
    first = next(steps, None)
    assert (first is not None and first[1] is not None) is reopened
    if first is not None:
        assert first[1] is not None and first[1].type == "ticket.reopened"
        assert first[0] <= REOPEN_WITHIN


def test_volume_is_1500_to_2500_events_a_day(events: list[dict[str, object]]) -> None:
    start = DEFAULT_START.isoformat().replace("+00:00", "Z")
    in_window = sum(1 for event in events if str(event["occurred_at"]) >= start)
    assert 1_500 * 60 <= in_window <= 2_500 * 60


def test_weekdays_are_more_than_twice_as_busy_as_weekends(history: list[str]) -> None:
    per_day = Counter(occurred_at(line).date() for line in history)
    days = [DEFAULT_START.date() + n * DAY for n in range(56)]
    weekday = [per_day[day] for day in days if day.weekday() < 5]
    weekend = [per_day[day] for day in days if day.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 2 * sum(weekend) / len(weekend)


def test_reps_work_in_their_teams_office_hours(events: list[dict[str, object]]) -> None:
    offsets = {"emea": 1, "amer": -5, "apac": 8}
    in_hours: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for event in events:
        if event["type"] == "activity.logged":
            team = str(event["team"])
            local = datetime.fromisoformat(str(event["occurred_at"])) + timedelta(
                hours=offsets[team]
            )
            total[team] += 1
            in_hours[team] += local.weekday() < 5 and 8 <= local.hour < 18
    assert all(in_hours[team] / total[team] > 0.8 for team in offsets)


def test_dimensions_stay_low_cardinality(events: list[dict[str, object]]) -> None:
    values: defaultdict[str, set[object]] = defaultdict(set)
    for event in events:
        for name in ("team", "rep", "channel", "segment", "priority", "kind"):
            if name in event:
                values[name].add(event[name])
    assert values["team"] == {"emea", "amer", "apac"}
    assert 12 <= len(values["rep"]) <= 20
    assert {"web", "paid_search", "email", "event", "referral"} <= values["channel"]
    assert values["segment"] == {"smb", "mid_market", "enterprise"}
    assert values["kind"] == {"call", "email", "meeting"}


def test_some_customers_accumulate_churn_signals(events: list[dict[str, object]]) -> None:
    """KPIS.md signals in the last 30 days: detractor, CSAT 1-2, reopened, 3+ tickets."""
    since = (DEFAULT_START + 30 * DAY).isoformat().replace("+00:00", "Z")
    owner: dict[object, object] = {}
    signals: defaultdict[object, set[str]] = defaultdict(set)
    tickets: Counter[object] = Counter()
    for event in events:
        kind, customer = event["type"], event.get("customer_id")
        if kind == "ticket.opened" and customer:
            owner[event["ticket_id"]] = customer
        if str(event["occurred_at"]) < since:
            continue
        if kind == "survey.nps" and customer and int(str(event["score"])) <= 6:
            signals[customer].add("detractor")
        if kind == "survey.csat" and customer and int(str(event["score"])) <= 2:
            signals[customer].add("low_csat")
        if kind == "ticket.reopened" and event["ticket_id"] in owner:
            signals[owner[event["ticket_id"]]].add("reopened")
        if kind == "ticket.opened" and customer:
            tickets[customer] += 1
            if tickets[customer] >= 3:
                signals[customer].add("tickets")
    assert sum(len(found) >= 2 for found in signals.values()) >= 20


def test_scale_multiplies_volume() -> None:
    small = sum(1 for _ in simulate_history(3, 7, scale=0.5))
    large = sum(1 for _ in simulate_history(3, 7, scale=1.0))
    assert 0.4 < small / large < 0.6


def test_naive_start_and_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next(simulate_history(1, 1, start=datetime(2026, 1, 5)))
    with pytest.raises(ValueError, match="duplicate"):
        Anomalies(duplicate=1.5)


def only(kind: str, rate: float = 0.02) -> Anomalies:
    return Anomalies(**{kind: rate})


def anomalous(kind: str, rate: float = 0.02) -> list[str]:
    return list(simulate_history(2, 7, anomalies=only(kind, rate), scale=0.3))


WALL_CLOCK = DEFAULT_START + 7 * DAY


@pytest.mark.parametrize("kind", REJECTIONS)
def test_each_rejected_anomaly_kind_appears_with_its_reason_only(kind: str) -> None:
    counts, _ = reasons(anomalous(kind), WALL_CLOCK)
    assert set(counts) == {"accepted", kind}
    assert counts[kind] >= 20


def test_duplicates_are_exact_copies_delivered_later() -> None:
    lines = anomalous("duplicate")
    counts, _ = reasons(lines, WALL_CLOCK)
    assert set(counts) == {"accepted", "duplicate"}
    seen: set[str] = set()
    log_time = datetime.min.replace(tzinfo=UTC)
    delays = []
    for line in lines:
        moment = occurred_at(line)
        if line in seen:
            delays.append(log_time - moment)
        seen.add(line)
        log_time = max(log_time, moment)
    assert len(delays) == counts["duplicate"] >= 20
    assert max(delays) > timedelta(hours=6)  # some are re-delivered much later


def test_late_events_come_up_to_10_days_late_and_are_all_accepted() -> None:
    counts, monitor = reasons(anomalous("late", 0.05), WALL_CLOCK)
    assert set(counts) == {"accepted"}
    assert len(monitor.late) >= 20
    assert max(monitor.late) <= 10 * DAY
    assert max(monitor.late) > timedelta(hours=1)


def test_anomalies_leave_the_good_events_as_they_are() -> None:
    messy = Anomalies(**{kind: 0.01 for kind in ("duplicate", "late", *REJECTIONS)})
    clean = list(simulate_history(4, 10, scale=0.3))
    monitor = ReferenceMonitor(DEFAULT_START + 10 * DAY)
    accepted = [
        line
        for line in simulate_history(4, 10, anomalies=messy, scale=0.3)
        if not monitor.offer(line)
    ]
    assert Counter(accepted) == Counter(clean)
    assert accepted != clean  # late events moved


def test_default_anomalies_are_a_few_per_thousand() -> None:
    lines = list(simulate_history(5, 7, anomalies=Anomalies.default(), scale=0.3))
    counts, monitor = reasons(lines, WALL_CLOCK)
    rejected = len(lines) - counts["accepted"]
    assert set(counts) == {"accepted", "duplicate", *REJECTIONS}
    assert 0.005 < rejected / len(lines) < 0.03
    assert monitor.late


def test_the_command_starts_where_told_and_warns_of_a_history_past_today(tmp_path: Path) -> None:
    out = tmp_path / "history.jsonl"
    command = [sys.executable, "-m", "streams", "simulate", "--days", "2", "--out", str(out)]
    done = subprocess.run([*command, "--start", "2025-03-03"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first_event_day = min(json.loads(line)["occurred_at"][:10] for line in out.open())
    assert first_event_day <= "2025-03-03"  # the company's state before it comes first
    assert max(json.loads(line)["occurred_at"][:10] for line in out.open()) == "2025-03-04"
    assert "after today" not in done.stderr
    future = subprocess.run([*command, "--start", "2999-01-01"], capture_output=True, text=True)
    assert future.returncode == 0
    assert "runs until 2999-01-03, after today" in future.stderr


def test_stale_copies_are_exact_copies_delivered_30_to_80_days_later() -> None:
    lines = list(simulate_history(4, 120, anomalies=Anomalies(stale_copy=0.01), scale=0.2))
    seen: set[str] = set()
    log_time = datetime.min.replace(tzinfo=UTC)
    copies = []
    for line in lines:
        moment = occurred_at(line)
        if line in seen:
            copies.append((moment, log_time - moment))
        seen.add(line)
        log_time = max(log_time, moment)
    # copies still due when the history ends are written at its end: those of the last 80 days
    due = [delay for moment, delay in copies if moment <= log_time - 80 * DAY]
    assert len(due) >= 50
    assert all(30 * DAY <= delay <= 81 * DAY for delay in due)
    assert sum(delay > 35 * DAY for delay in due) > len(due) / 2  # mostly past G
