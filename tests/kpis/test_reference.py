"""The reference implementation against small cases computed by hand from EVENTS.md and KPIS.md.

Unless a test says otherwise the watermark T is 2026-03-31T12:00:00Z, set by a "clock" event
that touches no KPI under test, and the wall clock is T. Window starts at that T:
1h 11:01 (minute buckets: 12:00 - 59 min), 24h 2026-03-30T12:01 (12:00 - 1439 min),
7d 2026-03-24T13:00 (hour buckets: 12:00 - 167 h), 30d 2026-03-01T13:00 (12:00 - 719 h).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.reference import (
    PARTITIONS,
    Reference,
    compare_snapshot,
    compute_reference,
    murmur2,
)

T = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(**delta: float) -> str:
    """RFC 3339 time `delta` before T, e.g. ago(hours=2)."""
    return stamp(T - timedelta(**delta))


def event(event_type: str, occurred_at: str, /, **fields: object) -> str:
    """One JSONL line; a fresh event_id unless one is given."""
    document = {"event_id": f"e{next(_ids)}", "type": event_type, "occurred_at": occurred_at}
    return json.dumps({**document, **fields})


def clock(at: str = stamp(T)) -> str:
    """Sets the watermark; a ticket of its own team, never resolved, changes no tested number."""
    return event("ticket.opened", at, ticket_id=f"clock-{at}", team="clock", priority="low")


def lead_clock() -> str:
    """The clock for ticket tests."""
    return event("lead.created", stamp(T), lead_id="clock", channel="clock")


def run(
    *lines: str | bytes, now: datetime = T, gross_margin: float = 1.0, timezone: str = "UTC"
) -> Reference:
    return compute_reference(lines, now=now, gross_margin=gross_margin, timezone=timezone)


def values(reference: Reference, kpi: str, window: str) -> dict[str, float | None]:
    """The series of one KPI and window, keyed "" (overall) or by the dimension value."""
    return {
        labels[0][1] if labels else "": value
        for (name, series_window, labels), value in reference.series.items()
        if name == kpi and series_window == window
    }


def assert_values(
    reference: Reference, kpi: str, window: str, expected: dict[str, float | None]
) -> None:
    actual = values(reference, kpi, window)
    assert actual.keys() == expected.keys(), (kpi, window)
    for key, value in expected.items():
        got = actual[key]
        if value is None or got is None:
            assert got is value, (kpi, window, key, got, value)
        else:
            assert math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-12), (kpi, window, key, got)


# --- Validation and reason precedence --------------------------------------------------------

CSAT = {
    "event_id": "x1",
    "type": "survey.csat",
    "occurred_at": "2026-03-31T11:00:00Z",
    "response_id": "R1",
    "score": 4,
    "team": "a",
}


def changed(base: dict[str, object], **fields: object) -> str:
    """`base` with fields replaced; a field given as ... is removed."""
    document = {**base, **fields}
    return json.dumps({key: value for key, value in document.items() if value is not ...})


@pytest.mark.parametrize(
    "line",
    [
        '{"event_id": "x", ',
        "not json",
        '{"event_id": "x", "amount": NaN}',
        '{"amount": 1e400}',
        b'{"event_id": "\xff"}',
        '{"event_id": "\\ud800"}',
    ],
)
def test_unparseable_lines_are_invalid_json(line: str | bytes) -> None:
    assert run(line).rejected == {"invalid_json": 1}


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]",
        '"survey.csat"',
        "42",
        changed(CSAT, event_id=...),
        changed(CSAT, event_id=""),
        changed(CSAT, event_id="x" * 129),
        changed(CSAT, event_id=7),
        changed(CSAT, type=...),
        changed(CSAT, type="survey.ces"),
        changed(CSAT, occurred_at=...),
        changed(CSAT, occurred_at="2026-03-31T11:00:00"),  # naive
        changed(CSAT, occurred_at="2026-03-31"),  # a date is naive too
        changed(CSAT, occurred_at="yesterday"),
        changed(CSAT, occurred_at=1774954800),
        changed(CSAT, source=5),
        changed(CSAT, schema_version="1"),
        changed(CSAT, schema_version=True),
        changed(CSAT, schema_version=1.5),
        changed(CSAT, response_id=...),
        changed(CSAT, response_id=""),
        changed(CSAT, response_id=3),
        changed(CSAT, team=None),  # a required field given as null
        changed(CSAT, team=""),
        changed(CSAT, score=4.0),
        changed(CSAT, score=True),
        changed(CSAT, score="4"),
        changed(CSAT, score=0),
        changed(CSAT, score=6),
        changed(CSAT, ticket_id=""),  # an optional field, present, must be valid
        changed(CSAT, type="survey.nps", segment="smb", score=11),
        changed(CSAT, type="survey.nps", segment="smb", score=-1),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web", amount=-1),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web", amount=True),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web", amount="10"),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web"),
        event("customer.subscribed", ago(hours=1), customer_id="C", segment="s", channel="w"),
        event("customer.renewed", ago(hours=1), customer_id="C", mrr=-0.01),
        event("ticket.opened", ago(hours=1), ticket_id="K", team="t", priority="critical"),
        event("ticket.replied", ago(hours=1), ticket_id="K", author="bot"),
        event("lead.created", ago(hours=1), lead_id="L", channel="web", campaign_id=5),
        event("lead.contacted", ago(hours=1), lead_id="L", team="emea"),
        event("activity.logged", ago(hours=1), activity_id="A", rep="r", team="t"),
        event(
            "opportunity.created", ago(hours=1), opportunity_id="O", amount=1, stage="s", rep="r"
        ),
    ],
)
def test_schema_violations_are_schema(line: str) -> None:
    assert run(line).rejected == {"schema": 1}


def test_what_the_schema_accepts() -> None:
    reference = run(
        changed(CSAT, event_id="x" * 128, extra={"kept": "ignored"}),
        changed(CSAT, event_id="z", occurred_at="2026-03-31t13:00:00+02:00", score=5),
        changed(CSAT, event_id="n", occurred_at="2026-03-31T10:00:00.5z", customer_id=None),
        changed(CSAT, event_id="v", source="zendesk", schema_version=2, source_id=None, score=1),
        changed(CSAT, event_id="p", type="survey.nps", segment="smb", score=0, source=None),
        changed(CSAT, event_id="q", type="survey.nps", segment="smb", score=10),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web", amount=0),
        event("marketing.spend", ago(hours=1), spend_id="S2", channel="web", amount=12.5),
        event(
            "opportunity.created",
            ago(hours=1),
            opportunity_id="O",
            amount=10,
            stage="s",
            rep="r",
            team="t",
            channel=None,  # optional null: absent
            lead_id=None,
        ),
    )
    assert reference.rejected == {}
    assert reference.accepted == 9
    # Offsets count: 13:00+02:00 is 11:00Z, the latest accepted time.
    assert reference.watermark == datetime(2026, 3, 31, 11, 0, tzinfo=UTC)
    # CSAT 1h (from 10:01): 4 (x*128), 5 (z), 1 (v) -> 2/3; 24h adds the 4 at 10:00:00.5 -> 3/4.
    assert reference.value("csat", "1h") == pytest.approx(2 / 3)
    assert reference.value("csat", "24h") == 0.75
    # The opportunity without a channel is open, counts in the pipeline and carries no channel.
    assert reference.value("open_pipeline_value", "now") == 10.0
    assert values(reference, "marketing_roi", "1h") == {"": -1.0, "web": -1.0}  # (0 - 12.5) / 12.5


def test_blank_lines_are_no_events() -> None:
    reference = run("", "   \n", b"\r\n", clock())
    assert (reference.accepted, reference.rejected) == (1, {})


def test_future_timestamp_is_more_than_one_hour_after_the_wall_clock() -> None:
    now = T - timedelta(hours=1)
    reference = run(clock(stamp(T)), clock(stamp(T + timedelta(microseconds=1))), now=now)
    # T is exactly now + 1h: accepted; one microsecond later: rejected.
    assert reference.accepted == 1
    assert reference.rejected == {"future_timestamp": 1}
    assert reference.watermark == T


def test_a_duplicate_in_the_future_counts_as_future_timestamp() -> None:
    first = changed(CSAT, event_id="d")
    future_copy = changed(CSAT, event_id="d", occurred_at=stamp(T + timedelta(hours=2)))
    assert run(first, future_copy).rejected == {"future_timestamp": 1}


def test_schema_comes_before_duplicate() -> None:
    assert run(changed(CSAT, event_id="d"), changed(CSAT, event_id="d", score=9)).rejected == {
        "schema": 1
    }


def test_duplicate_comes_before_unknown_entity_and_invalid_transition() -> None:
    opened = event(
        "ticket.opened", ago(hours=3), event_id="k", ticket_id="K", team="t", priority="low"
    )
    reference = run(
        opened,
        opened,  # a second `opened` would be invalid_transition: it is a duplicate
        event("ticket.resolved", ago(hours=2), event_id="k", ticket_id="nobody"),
    )
    assert reference.rejected == {"duplicate": 2}


@pytest.mark.parametrize(
    "refused",
    [
        changed(CSAT, event_id="r", score=0),  # schema
        changed(CSAT, event_id="r", occurred_at=stamp(T + timedelta(hours=3))),  # future
        event("ticket.resolved", ago(hours=2), event_id="r", ticket_id="nobody"),  # unknown
        "{broken",  # invalid JSON cannot consume anything either
    ],
)
def test_a_rejected_event_does_not_consume_its_event_id(refused: str) -> None:
    reference = run(refused, changed(CSAT, event_id="r"))
    assert reference.accepted == 1
    assert sum(reference.rejected.values()) == 1
    assert "duplicate" not in reference.rejected


def test_duplicates_never_change_a_kpi() -> None:
    lines = [
        event("ticket.opened", ago(hours=3), ticket_id="K", team="t", priority="low"),
        event("ticket.replied", ago(hours=2), ticket_id="K", author="agent"),
        event("ticket.resolved", ago(hours=1), ticket_id="K"),
        event("survey.csat", ago(hours=1), response_id="R", score=2, team="t"),
        event("marketing.spend", ago(hours=1), spend_id="S", channel="web", amount=10),
    ]
    once = run(*lines)
    # Every line delivered again, late and in reverse, then once more.
    replayed = run(*lines, *reversed(lines), *lines)
    assert replayed.series == once.series
    assert replayed.watermark == once.watermark
    assert (replayed.accepted, replayed.rejected) == (5, {"duplicate": 10})


def test_unknown_entity_is_judged_by_the_event_own_key_only() -> None:
    reference = run(
        event("opportunity.won", ago(hours=1), opportunity_id="never"),
        event("lead.qualified", ago(hours=1), lead_id="never"),
        event("customer.renewed", ago(hours=1), customer_id="never"),
        event("ticket.replied", ago(hours=1), ticket_id="never", author="agent"),
        # Optional references to unknown entities are fine; stateless types never unknown.
        event(
            "ticket.opened", ago(hours=1), ticket_id="K", team="t", priority="low", customer_id="x"
        ),
        event(
            "activity.logged",
            ago(hours=1),
            activity_id="A",
            kind="call",
            rep="r",
            team="t",
            lead_id="x",
        ),
        event("survey.csat", ago(hours=1), response_id="R", score=3, team="t", ticket_id="x"),
        event("lead.converted", ago(hours=1), lead_id="never", customer_id="C"),
    )
    assert reference.rejected == {"unknown_entity": 5}
    assert reference.accepted == 3


def test_opportunity_transitions() -> None:
    created = {"amount": 100, "stage": "s", "rep": "r", "team": "t"}
    reference = run(
        event("opportunity.created", ago(hours=5), opportunity_id="O", **created),
        event("opportunity.created", ago(hours=4), opportunity_id="O", **created),  # second
        event("opportunity.stage_changed", ago(hours=3), opportunity_id="O", stage="x"),
        event("opportunity.won", ago(hours=2), opportunity_id="O"),
        event("opportunity.lost", ago(hours=1), opportunity_id="O"),  # closed
        event("opportunity.stage_changed", ago(hours=1), opportunity_id="O", stage="y"),  # closed
        event("opportunity.won", ago(hours=1), opportunity_id="O"),  # closed
    )
    assert reference.rejected == {"invalid_transition": 4}
    assert reference.accepted == 3


def test_lead_transitions() -> None:
    reference = run(
        event("lead.created", ago(hours=5), lead_id="L", channel="web"),
        event("lead.created", ago(hours=5), lead_id="L", channel="web"),  # second
        event("lead.contacted", ago(hours=4), lead_id="L", rep="r", team="a"),
        event("lead.contacted", ago(hours=4), lead_id="L", rep="r", team="b"),  # accepted, no-op
        event("lead.converted", ago(hours=3), lead_id="L"),  # converted before qualified: fine
        event("lead.qualified", ago(hours=3), lead_id="L"),
        event("lead.qualified", ago(hours=2), lead_id="L"),  # second
        event("lead.converted", ago(hours=2), lead_id="L"),  # second
        event("lead.contacted", ago(hours=1), lead_id="L", rep="r", team="c"),  # still fine
    )
    assert reference.rejected == {"invalid_transition": 3}
    assert reference.accepted == 6


def test_customer_transitions() -> None:
    subscribed = {"segment": "smb", "channel": "web", "mrr": 10}
    reference = run(
        event("customer.subscribed", ago(hours=5), customer_id="C", **subscribed),
        event("customer.subscribed", ago(hours=5), customer_id="C", **subscribed),  # second
        event("customer.renewed", ago(hours=4), customer_id="C", mrr=20),
        event("customer.churned", ago(hours=3), customer_id="C"),
        event("customer.churned", ago(hours=2), customer_id="C"),  # not active
        event("customer.renewed", ago(hours=2), customer_id="C"),  # not active
        event("customer.subscribed", ago(hours=1), customer_id="C", **subscribed),  # exists
    )
    assert reference.rejected == {"invalid_transition": 4}
    assert reference.accepted == 3


def test_ticket_transitions() -> None:
    reference = run(
        event("ticket.opened", ago(hours=5), ticket_id="K", team="t", priority="low"),
        event("ticket.opened", ago(hours=5), ticket_id="K", team="t", priority="low"),  # second
        event("ticket.reopened", ago(hours=4), ticket_id="K"),  # not resolved
        event("ticket.replied", ago(hours=4), ticket_id="K", author="customer"),
        event("ticket.resolved", ago(hours=3), ticket_id="K"),
        event("ticket.resolved", ago(hours=3), ticket_id="K"),  # already resolved
        event("ticket.replied", ago(hours=3), ticket_id="K", author="agent"),  # resolved
        event("ticket.replied", ago(hours=3), ticket_id="K", author="customer"),  # resolved
        event("ticket.reopened", ago(hours=2), ticket_id="K"),
        event("ticket.replied", ago(hours=2), ticket_id="K", author="agent"),
        event("ticket.resolved", ago(hours=1), ticket_id="K"),
    )
    assert reference.rejected == {"invalid_transition": 5}
    assert reference.accepted == 6


def test_the_watermark_is_the_latest_accepted_occurred_at() -> None:
    reference = run(
        clock(ago(hours=1)),
        clock(ago(hours=3)),  # late: does not lower T
        clock(stamp(T + timedelta(hours=2))),  # future: rejected, does not raise T
        changed(CSAT, occurred_at=stamp(T), score=0),  # schema: rejected
    )
    assert reference.watermark == T - timedelta(hours=1)


def test_an_empty_log_has_no_watermark_and_only_now_series() -> None:
    reference = run()
    assert reference.watermark is None
    assert reference.series == {
        ("open_pipeline_value", "now", ()): 0.0,
        ("active_customers", "now", ()): 0.0,
        ("mrr", "now", ()): 0.0,
    }


# --- Windows ---------------------------------------------------------------------------------


def test_window_edges_and_late_events() -> None:
    def activity(at: str) -> str:
        return event("activity.logged", at, activity_id=at, kind="call", rep="ana", team="t")

    reference = run(
        # T = 12:00:30: the minute bucket is 12:00, so the 1h window still starts at 11:01.
        activity("2026-03-31T12:00:30Z"),
        # Everything below arrives late, after T, and lands by its own time.
        activity("2026-03-31T13:01:00+02:00"),  # 11:01:00Z, first instant of 1h
        activity("2026-03-31T11:00:59.999999Z"),  # just outside 1h
        activity("2026-03-30T12:01:00Z"),  # first instant of 24h
        activity("2026-03-30T12:00:59.999999Z"),  # just outside 24h
        activity("2026-03-24T13:00:00Z"),  # first instant of 7d
        activity("2026-03-24T12:59:59.999999Z"),  # just outside 7d
        activity("2026-03-01T13:00:00Z"),  # first instant of 30d
        activity("2026-03-01T12:59:59.999999Z"),  # just outside 30d
    )
    assert reference.watermark == datetime(2026, 3, 31, 12, 0, 30, tzinfo=UTC)
    # 1h: 12:00:30, 11:01 = 2; each wider window adds its edge and the previous outsider.
    assert_values(reference, "rep_activities", "1h", {"": 2.0, "ana": 2.0})
    assert_values(reference, "rep_activities", "24h", {"": 4.0, "ana": 4.0})
    assert_values(reference, "rep_activities", "7d", {"": 6.0, "ana": 6.0})
    assert_values(reference, "rep_activities", "30d", {"": 8.0, "ana": 8.0})


def test_late_events_land_in_their_own_window() -> None:
    reference = run(
        clock(),
        event("survey.csat", ago(hours=2), response_id="late", score=5, team="a"),
        event("survey.csat", ago(minutes=5), response_id="recent", score=1, team="a"),
    )
    assert reference.watermark == T
    assert_values(reference, "csat", "1h", {"": 0.0, "a": 0.0})  # only the recent 1
    assert_values(reference, "csat", "24h", {"": 0.5, "a": 0.5})  # 5 and 1: 1 of 2


# --- KPIs ------------------------------------------------------------------------------------


def opportunity(
    opportunity_id: str, created: str, team: str, amount: float, rep: str = "r", **extra: object
) -> str:
    return event(
        "opportunity.created",
        created,
        opportunity_id=opportunity_id,
        amount=amount,
        stage="new",
        rep=rep,
        team=team,
        **extra,
    )


def test_open_pipeline_value() -> None:
    reference = run(
        opportunity("O1", ago(days=3), "emea", 1000),
        opportunity("O2", ago(days=3), "emea", 500),
        event("opportunity.stage_changed", ago(days=2), opportunity_id="O2", stage="x", amount=700),
        event(
            "opportunity.stage_changed", ago(days=1), opportunity_id="O2", stage="y"
        ),  # keeps 700
        opportunity("O3", ago(days=3), "apac", 300),
        event("opportunity.won", ago(days=1), opportunity_id="O3"),
        opportunity("O4", ago(days=3), "apac", 200),
        event("opportunity.lost", ago(days=1), opportunity_id="O4"),
        opportunity("O5", ago(days=40), "na", 0),
    )
    # Open: O1 1000 + O2 700 + O5 0 = 1700; apac's are closed.
    assert_values(
        reference, "open_pipeline_value", "now", {"": 1700, "emea": 1700, "apac": 0, "na": 0}
    )


def test_lead_cohorts_count_conversions_whenever_they_happened() -> None:
    def lead(lead_id: str, created: str, channel: str) -> str:
        return event("lead.created", created, lead_id=lead_id, channel=channel)

    reference = run(
        clock(),
        lead("L1", ago(hours=2), "web"),
        event("lead.converted", ago(minutes=10), lead_id="L1"),  # converted inside 1h
        lead("L2", ago(minutes=30), "web"),
        event("lead.qualified", ago(minutes=20), lead_id="L2"),
        lead("L3", ago(minutes=40), "email"),
        lead("L4", ago(days=3), "email"),
        # Arrives last, after T: still counts for L3's cohort.
        event("lead.qualified", ago(minutes=30), lead_id="L3"),
        event("lead.converted", ago(minutes=5), lead_id="L3"),
    )
    # 1h cohort: L2 (web), L3 (email); L1 was created before 11:01 though converted after.
    # converted: L3 -> 1/2; web 0/1; email 1/1.  qualified: L2, L3 -> 2/2; web 1/1; email 1/1.
    assert_values(reference, "lead_conversion_rate", "1h", {"": 0.5, "web": 0.0, "email": 1.0})
    assert_values(reference, "marketing_conversion_rate", "1h", {"": 1.0, "web": 1.0, "email": 1.0})
    # 24h cohort: L1, L2, L3.  converted L1, L3 -> 2/3; web (L1, L2) 1/2; email 1/1.
    # qualified L2, L3 -> 2/3; web 1/2; email 1/1 (L1 converted without qualification).
    assert_values(reference, "lead_conversion_rate", "24h", {"": 2 / 3, "web": 0.5, "email": 1.0})
    assert_values(
        reference, "marketing_conversion_rate", "24h", {"": 2 / 3, "web": 0.5, "email": 1.0}
    )
    # 7d adds L4 (email, nothing): converted 2/4; email 1/2.
    assert_values(reference, "lead_conversion_rate", "7d", {"": 0.5, "web": 0.5, "email": 0.5})


def test_lead_cohort_without_leads_in_the_window_is_null() -> None:
    reference = run(clock(), event("lead.created", ago(days=2), lead_id="L", channel="web"))
    assert_values(reference, "lead_conversion_rate", "24h", {"": None, "web": None})
    assert_values(reference, "marketing_conversion_rate", "7d", {"": 0.0, "web": 0.0})


def test_sales_cycle_and_win_rate() -> None:
    reference = run(
        clock(),
        opportunity("O1", ago(days=10), "emea", 10),
        event("opportunity.won", ago(days=1), opportunity_id="O1"),  # T - 24h: before 24h window
        opportunity("O2", ago(days=2, hours=12), "emea", 10),
        event("opportunity.won", ago(hours=12), opportunity_id="O2"),
        opportunity("O3", ago(days=5), "apac", 10),
        event("opportunity.lost", ago(hours=2), opportunity_id="O3"),
        opportunity("O4", ago(days=3), "emea", 10),
        event("opportunity.lost", ago(hours=20), opportunity_id="O4"),
        opportunity("O5", ago(hours=1), "na", 10),
    )
    # 24h: won O2 after 2.5 d - 0.5 d = 2 days.  7d: O1 9 days too: (9 + 2) / 2 = 5.5.
    assert_values(
        reference, "sales_cycle_days", "1h", {"": None, "emea": None, "apac": None, "na": None}
    )
    assert_values(
        reference, "sales_cycle_days", "24h", {"": 2.0, "emea": 2.0, "apac": None, "na": None}
    )
    assert_values(
        reference, "sales_cycle_days", "7d", {"": 5.5, "emea": 5.5, "apac": None, "na": None}
    )
    # 24h closed: O2 won, O3 lost, O4 lost -> 1/3; emea O2, O4 -> 1/2; apac 0/1; na none.
    assert_values(reference, "win_rate", "24h", {"": 1 / 3, "emea": 0.5, "apac": 0.0, "na": None})
    # 7d adds O1 won: 2/4; emea 2/3.
    assert_values(reference, "win_rate", "7d", {"": 0.5, "emea": 2 / 3, "apac": 0.0, "na": None})
    assert_values(reference, "win_rate", "1h", {"": None, "emea": None, "apac": None, "na": None})


def test_won_amount_sums_the_final_amounts_won_in_the_window_per_rep() -> None:
    reference = run(
        clock(),
        opportunity("O1", ago(days=10), "emea", 100, rep="ann"),
        event("opportunity.won", ago(days=2), opportunity_id="O1", amount=150.5),  # final amount
        opportunity("O2", ago(days=3), "emea", 40, rep="bob"),
        event("opportunity.stage_changed", ago(days=1), opportunity_id="O2", stage="x", amount=60),
        event("opportunity.won", ago(hours=5), opportunity_id="O2"),  # the current amount: 60
        opportunity("O3", ago(days=3), "apac", 70, rep="ann"),
        event("opportunity.won", ago(minutes=30), opportunity_id="O3"),
        opportunity("O4", ago(days=3), "apac", 999, rep="cid"),
        event("opportunity.lost", ago(hours=2), opportunity_id="O4"),  # lost: never counted
        opportunity("O5", ago(hours=1), "apac", 5, rep="dee"),  # still open
    )
    everyone = {"ann": 70.0, "bob": 60.0, "cid": 0.0, "dee": 0.0}
    assert_values(reference, "won_amount", "1h", {"": 70.0, **everyone, "bob": 0.0})
    assert_values(reference, "won_amount", "24h", {"": 130.0, **everyone})
    assert_values(reference, "won_amount", "7d", {"": 280.5, **everyone, "ann": 220.5})


def test_opportunity_creation_ratio_uses_the_first_contact() -> None:
    def contact(lead_id: str, at: str, team: str) -> str:
        return event("lead.contacted", at, lead_id=lead_id, rep="r", team=team)

    reference = run(
        clock(),
        *(event("lead.created", ago(days=5), lead_id=i, channel="web") for i in ("L1", "L2", "L3")),
        contact("L1", ago(hours=3), "emea"),
        contact("L1", ago(hours=1), "apac"),  # not the first: changes nothing
        contact("L2", ago(hours=2), "emea"),
        contact("L3", ago(days=2), "apac"),
        contact("L3", ago(hours=1), "apac"),  # not the first
        opportunity("OA", ago(hours=5), "emea", 1),
        opportunity("OB", ago(hours=4), "apac", 1),
        opportunity("OC", ago(hours=30), "apac", 1),
    )
    # 24h: created OA, OB = 2; first contacted L1, L2 (both emea) = 2 -> 1.0;
    # emea 1/2; apac 1/0 -> null.
    assert_values(
        reference, "opportunity_creation_ratio", "24h", {"": 1.0, "emea": 0.5, "apac": None}
    )
    # 7d: created 3; first contacted L1, L2 (emea), L3 (apac) = 3; emea 1/2; apac 2/1.
    assert_values(
        reference, "opportunity_creation_ratio", "7d", {"": 1.0, "emea": 0.5, "apac": 2.0}
    )


START_30D = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


def subscribed(
    customer_id: str, at: str, segment: str, mrr: float = 10, channel: str = "web"
) -> str:
    return event(
        "customer.subscribed",
        at,
        customer_id=customer_id,
        segment=segment,
        channel=channel,
        mrr=mrr,
    )


def churned(customer_id: str, at: str) -> str:
    return event("customer.churned", at, customer_id=customer_id)


def test_retention_and_churn_edges() -> None:
    just_before_start = stamp(START_30D - timedelta(microseconds=1))
    reference = run(
        clock(),
        subscribed("C1", ago(days=40), "smb"),  # in S
        subscribed("C2", ago(days=40), "smb"),
        churned("C2", ago(days=5)),  # in S and L
        subscribed("C3", ago(days=40), "mid"),
        churned("C3", ago(days=35)),  # churned before the start: not in S
        subscribed("C4", ago(days=10), "mid"),  # acquired in the window: not in S
        subscribed("C5", stamp(START_30D), "mid"),  # at the start is not strictly before
        subscribed("C6", just_before_start, "ent"),
        churned("C6", stamp(START_30D)),  # churned at the start is not before it: S and L
        subscribed("C7", ago(days=40), "ent"),
        churned("C7", just_before_start),  # churned before the start: not in S
    )
    # 30d: S = C1, C2, C6 = 3; L = C2, C6 = 2 -> retention 1/3, churn 2/3.
    # smb S = 2, L = 1; ent S = 1 (C6), L = 1; mid S = 0 -> null.
    assert_values(
        reference,
        "customer_retention_rate",
        "30d",
        {"": 1 / 3, "smb": 0.5, "ent": 0.0, "mid": None},
    )
    assert_values(reference, "churn_rate", "30d", {"": 2 / 3, "smb": 0.5, "ent": 1.0, "mid": None})
    # 1h (start 11:01): S = C1 (smb), C4, C5 (mid); nobody churned in the last hour.
    assert_values(
        reference, "customer_retention_rate", "1h", {"": 1.0, "smb": 1.0, "ent": None, "mid": 1.0}
    )
    assert_values(reference, "churn_rate", "1h", {"": 0.0, "smb": 0.0, "ent": None, "mid": 0.0})


# --- Previous and calendar windows (KPIS.md) ---------------------------------------------------

MICROSECOND = timedelta(microseconds=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def in_time_order(*timed: tuple[datetime, str]) -> list[str]:
    """The lines in the order of their times: none is late, whatever the grace period."""
    return [line for _, line in sorted(timed, key=lambda pair: pair[0])]


def activity_at(moment: datetime, rep: str = "ana") -> tuple[datetime, str]:
    line = event("activity.logged", stamp(moment), activity_id=f"a{next(_ids)}", kind="call")
    return moment, line.replace('"kind"', f'"rep": "{rep}", "team": "t", "kind"')


def subscribed_at(customer_id: str, moment: datetime, segment: str) -> tuple[datetime, str]:
    return moment, subscribed(customer_id, stamp(moment), segment)


def churned_at(customer_id: str, moment: datetime) -> tuple[datetime, str]:
    return moment, churned(customer_id, stamp(moment))


def clock_at(moment: datetime) -> tuple[datetime, str]:
    return moment, clock(stamp(moment))


# Per zone: T, and the local midnights that start its month and quarter, in UTC.
CALENDAR_STARTS = {
    "America/New_York": [
        # After the change to summer time (March 8): the month began in winter time.
        ("2026-03-20T12:00:00Z", "2026-03-01T05:00:00Z", "2026-01-01T05:00:00Z"),
        # 00:30 on November 1 (summer time until 06:00Z): November and Q4 have begun.
        ("2026-11-01T04:30:00Z", "2026-11-01T04:00:00Z", "2026-10-01T04:00:00Z"),
        # 23:59 on October 31: still October.
        ("2026-11-01T03:59:00Z", "2026-10-01T04:00:00Z", "2026-10-01T04:00:00Z"),
    ],
    "Asia/Kathmandu": [("2026-03-20T12:00:00Z", "2026-02-28T18:15:00Z", "2025-12-31T18:15:00Z")],
    "Asia/Kolkata": [("2026-03-20T12:00:00Z", "2026-02-28T18:30:00Z", "2025-12-31T18:30:00Z")],
}


def calendar_case(watermark: datetime, month: datetime, quarter: datetime) -> list[str]:
    """Events at and just before the local month and quarter starts."""
    timed = [
        activity_at(month),
        activity_at(month - MICROSECOND),
        activity_at(quarter - MICROSECOND),
        subscribed_at("C1", month - MICROSECOND, "smb"),
        churned_at("C1", month + timedelta(minutes=1)),
        subscribed_at("C2", month, "smb"),
        subscribed_at("C3", quarter - MICROSECOND, "smb"),
        subscribed_at("C4", quarter - timedelta(days=1), "ent"),
        subscribed_at("C5", quarter - timedelta(days=2), "ent"),
        clock_at(watermark),
    ]
    if month > quarter:
        timed += [activity_at(quarter), churned_at("C4", month - MICROSECOND)]
    return in_time_order(*timed)


def calendar_cases(timezone: str) -> list[list[str]]:
    return [calendar_case(*map(at, starts)) for starts in CALENDAR_STARTS[timezone]]


@pytest.mark.parametrize(
    ("timezone", "case"),
    [(zone, case) for zone, cases in CALENDAR_STARTS.items() for case in range(len(cases))],
)
def test_calendar_windows_start_at_the_local_midnight(timezone: str, case: int) -> None:
    watermark, month, quarter = map(at, CALENDAR_STARTS[timezone][case])
    reference = run(*calendar_case(watermark, month, quarter), now=watermark, timezone=timezone)
    if month > quarter:
        # mtd: the activity at the month start; qtd adds the one just before it and the one
        # at the quarter start, not the one just before that.
        assert_values(reference, "rep_activities", "mtd", {"": 1.0, "ana": 1.0})
        assert_values(reference, "rep_activities", "qtd", {"": 3.0, "ana": 3.0})
        # mtd S: C1 (smb, churned in it), C3 (smb), C5 (ent); C4 churned just before.
        # qtd S: C3 (smb), C4 (ent, churned in it), C5 (ent).
        expected_mtd = {"": 1 / 3, "smb": 0.5, "ent": 0.0}
        expected_qtd = {"": 1 / 3, "smb": 0.0, "ent": 0.5}
    else:
        # Month and quarter start together: the same window.
        assert_values(reference, "rep_activities", "mtd", {"": 1.0, "ana": 1.0})
        assert_values(reference, "rep_activities", "qtd", {"": 1.0, "ana": 1.0})
        # S: C3 (smb), C4 and C5 (ent), C1 acquired before the start too (smb); L: C1.
        expected_mtd = expected_qtd = {"": 0.25, "smb": 0.5, "ent": 0.0}
    assert_values(reference, "churn_rate", "mtd", expected_mtd)
    assert_values(reference, "churn_rate", "qtd", expected_qtd)


def test_a_utc_quarter_ending_mid_way() -> None:
    reference = run(
        *in_time_order(
            activity_at(at("2026-03-31T23:59:59.999999Z")),
            activity_at(at("2026-04-01T00:00:00Z")),
            activity_at(at("2026-05-01T00:00:00Z")),
            clock_at(at("2026-05-14T09:00:00Z")),
        ),
        now=at("2026-05-14T09:00:00Z"),
    )
    assert_values(reference, "rep_activities", "mtd", {"": 1.0, "ana": 1.0})
    assert_values(reference, "rep_activities", "qtd", {"": 2.0, "ana": 2.0})


PREV_EDGES = {
    # T = 2026-03-31T12:00:00Z; each `prev_` window ends where the window of its name starts.
    "prev_24h": ("2026-03-29T12:01:00Z", "2026-03-30T12:01:00Z"),
    "prev_7d": ("2026-03-17T13:00:00Z", "2026-03-24T13:00:00Z"),
    "prev_30d": ("2026-01-30T13:00:00Z", "2026-03-01T13:00:00Z"),
}


def prev_boundary_case() -> list[str]:
    """Per `prev_` window, one rep with an activity at each side of both of its edges."""
    timed = [clock_at(T)]
    for window, (start, end) in PREV_EDGES.items():
        for edge in (at(start), at(end)):
            timed += [activity_at(edge, window), activity_at(edge - MICROSECOND, window)]
    return in_time_order(*timed)


def test_prev_windows_hold_the_buckets_just_before_their_window() -> None:
    reference = run(*prev_boundary_case())
    for window in PREV_EDGES:
        # The first instant of the window and the last before its end: 2 of 4.
        counts = values(reference, "rep_activities", window)
        assert counts[window] == 2.0, (window, counts)
    assert values(reference, "rep_activities", "prev_24h") == {
        "": 2.0,
        "prev_24h": 2.0,
        "prev_7d": 0.0,
        "prev_30d": 0.0,
    }
    # 24h: its first instant (the end of prev_24h) only; the clock is a ticket.
    assert values(reference, "rep_activities", "24h")["prev_24h"] == 1.0


def prev_30d_retention_case() -> list[str]:
    start, end = map(at, PREV_EDGES["prev_30d"])
    return in_time_order(
        clock_at(T),
        subscribed_at("D1", start - timedelta(days=10), "smb"),
        churned_at("D1", start + timedelta(days=5)),  # S and L
        subscribed_at("D2", start - timedelta(days=10), "smb"),
        churned_at("D2", end + timedelta(days=1)),  # S; churned after the end: not L
        subscribed_at("D3", start - timedelta(days=10), "ent"),
        churned_at("D3", start - MICROSECOND),  # churned before the start: not S
        subscribed_at("D4", start, "ent"),  # not strictly before the start
        subscribed_at("D5", start - MICROSECOND, "ent"),
        churned_at("D5", end - MICROSECOND),  # S and L
        subscribed_at("D6", start - MICROSECOND, "ent"),
        churned_at("D6", end),  # S; at the end is after the window
        subscribed_at("D7", start - timedelta(days=2), "ent"),  # S
    )


def test_retention_and_churn_on_prev_30d_count_churns_inside_it_only() -> None:
    reference = run(*prev_30d_retention_case())
    # S = D1, D2, D5, D6, D7; L = D1, D5.
    assert_values(reference, "churn_rate", "prev_30d", {"": 0.4, "smb": 0.5, "ent": 1 / 3})
    assert_values(
        reference, "customer_retention_rate", "prev_30d", {"": 0.6, "smb": 0.5, "ent": 2 / 3}
    )
    # 30d (from prev_30d's end): S = D2 (smb), D4, D6, D7 (ent); L = D2, D6.
    assert_values(reference, "churn_rate", "30d", {"": 0.5, "smb": 1.0, "ent": 1 / 3})


def test_lifetime_value_active_customers_and_mrr() -> None:
    reference = run(
        clock(),
        # the oldest first: past the grace period (35 days) behind a later event, `too_late`
        subscribed("C1", ago(days=40), "smb", mrr=100),
        subscribed("C2", ago(days=40), "smb", mrr=300),
        subscribed("C3", ago(days=40), "smb", mrr=200),
        subscribed("C5", ago(days=40), "ent", mrr=1000),
        subscribed("C6", ago(days=40), "mid", mrr=50),
        event("customer.renewed", ago(days=1), customer_id="C1"),  # no mrr: keeps 100
        churned("C2", ago(days=5)),
        subscribed("C4", ago(days=10), "smb", mrr=400),
        event("customer.renewed", ago(days=2), customer_id="C4", mrr=600),
        churned("C6", ago(days=3)),
        gross_margin=0.8,
    )
    # Active: C1 100, C3 200, C4 600 (smb), C5 1000 (ent).
    assert_values(reference, "active_customers", "now", {"": 4, "smb": 3, "ent": 1, "mid": 0})
    assert_values(reference, "mrr", "now", {"": 1900, "smb": 900, "ent": 1000, "mid": 0})
    # 30d S = C1, C2, C3, C5, C6 = 5, L = C2, C6 -> churn 2/5; ARPA 1900/4 = 475:
    #   CLV = 475 * 0.8 / (2/5) = 950.
    # smb: S = C1, C2, C3, L = C2 -> 1/3; ARPA 900/3 = 300: CLV = 300 * 0.8 * 3 = 720.
    # ent: churn 0 -> null.  mid: churn 1/1 but no active customer, ARPA null -> null.
    assert_values(
        reference,
        "customer_lifetime_value",
        "30d",
        {"": 950.0, "smb": 720.0, "ent": None, "mid": None},
    )
    assert values(reference, "customer_lifetime_value", "7d") == {}


def test_csat() -> None:
    reference = run(
        clock(),
        *(
            event("survey.csat", ago(hours=h), response_id=f"R{h}", score=s, team=team)
            for h, s, team in [(1, 5, "a"), (2, 4, "a"), (3, 3, "a"), (4, 1, "b"), (48, 5, "c")]
        ),
    )
    # 24h: a 5, 4, 3 -> 2/3; b 1 -> 0; overall 2/4.  7d: c's 5 too -> 3/5.
    assert_values(reference, "csat", "24h", {"": 0.5, "a": 2 / 3, "b": 0.0, "c": None})
    assert_values(reference, "csat", "7d", {"": 0.6, "a": 2 / 3, "b": 0.0, "c": 1.0})


def test_resolution_time_and_first_contact_resolution() -> None:
    def opened(ticket_id: str, at: str, team: str) -> str:
        return event("ticket.opened", at, ticket_id=ticket_id, team=team, priority="high")

    def reply(ticket_id: str, at: str, author: str) -> str:
        return event("ticket.replied", at, ticket_id=ticket_id, author=author)

    def resolved(ticket_id: str, at: str) -> str:
        return event("ticket.resolved", at, ticket_id=ticket_id)

    def reopened(ticket_id: str, at: str) -> str:
        return event("ticket.reopened", at, ticket_id=ticket_id)

    reference = run(
        lead_clock(),
        # K1: 2 h, two agent replies: not first-contact.
        opened("K1", ago(hours=5), "support"),
        reply("K1", ago(hours=4), "agent"),
        reply("K1", ago(hours=4), "agent"),
        resolved("K1", ago(hours=3)),
        # K2: exactly 4 h, one agent reply (customer replies do not count): first-contact.
        opened("K2", ago(hours=4, minutes=30), "support"),
        reply("K2", ago(hours=4), "customer"),
        reply("K2", ago(hours=3), "agent"),
        reply("K2", ago(hours=2), "customer"),
        resolved("K2", ago(minutes=30)),
        # K3: first resolved 26 h ago after 4 h (outside 24h), reopened, resolved again 1 h ago.
        opened("K3", ago(hours=30), "billing"),
        resolved("K3", ago(hours=26)),
        reopened("K3", ago(hours=2)),
        resolved("K3", ago(hours=1)),
        # K4: exactly 1 h, no reply, but reopened later: not first-contact.
        opened("K4", ago(hours=10), "billing"),
        resolved("K4", ago(hours=9)),
        reopened("K4", ago(hours=1)),
        # K5: never resolved.
        opened("K5", ago(hours=2), "billing"),
    )
    # 24h: K1 2 h, K2 4 h, K4 1 h -> 7/3 h; support (2 + 4)/2 = 3; billing 1.
    assert_values(
        reference, "resolution_time_hours", "24h", {"": 7 / 3, "support": 3.0, "billing": 1.0}
    )
    # 7d adds K3 (4 h): 11/4; billing (1 + 4)/2.
    assert_values(
        reference, "resolution_time_hours", "7d", {"": 2.75, "support": 3.0, "billing": 2.5}
    )
    # 1h (from 11:01): only K2 (resolved 11:30); K3's second resolution is not a first one.
    assert_values(
        reference, "resolution_time_hours", "1h", {"": 4.0, "support": 4.0, "billing": None}
    )
    # FCR 24h: only K2 of K1, K2, K4 -> 1/3; support 1/2; billing 0/1.  7d: K3 fails too: 1/4.
    assert_values(
        reference,
        "first_contact_resolution_rate",
        "24h",
        {"": 1 / 3, "support": 0.5, "billing": 0.0},
    )
    assert_values(
        reference, "first_contact_resolution_rate", "7d", {"": 0.25, "support": 0.5, "billing": 0.0}
    )
    # Histogram 24h, cumulative with inclusive bounds: K4 (1 h) <= 1; K1 (2 h), K2 (4 h) <= 4.
    assert reference.histogram("24h") == {
        "1": 1, "4": 3, "8": 3, "24": 3, "48": 3, "72": 3, "168": 3, "+Inf": 3
    }  # fmt: skip
    assert reference.histogram("24h", team="support") == {
        "1": 0, "4": 2, "8": 2, "24": 2, "48": 2, "72": 2, "168": 2, "+Inf": 2
    }  # fmt: skip
    assert reference.histogram("7d", team="billing") == {
        "1": 1, "4": 2, "8": 2, "24": 2, "48": 2, "72": 2, "168": 2, "+Inf": 2
    }  # fmt: skip
    assert reference.histogram("1h", team="billing") == dict.fromkeys(
        ["1", "4", "8", "24", "48", "72", "168", "+Inf"], 0
    )


def test_acquisition_cost_and_marketing_roi() -> None:
    def spend(at: str, channel: str, amount: float) -> str:
        return event("marketing.spend", at, spend_id=f"S-{at}", channel=channel, amount=amount)

    reference = run(
        clock(),
        spend(ago(hours=2), "web", 100),
        spend(ago(hours=5), "web", 50),
        spend(ago(hours=3), "paid_search", 300),
        spend(ago(hours=1), "event", 0),
        spend(ago(days=2), "web", 1000),
        subscribed("W1", ago(hours=3), "smb", channel="web"),
        subscribed("W2", ago(hours=4), "smb", channel="web"),
        subscribed("R1", ago(hours=4), "smb", channel="referral"),
        subscribed("P1", ago(days=2), "smb", channel="paid_search"),
        opportunity("OW1", ago(days=9), "t", 500, channel="web"),
        event("opportunity.won", ago(hours=1), opportunity_id="OW1", amount=600),
        opportunity("OW2", ago(days=9), "t", 100, channel="paid_search"),
        event(
            "opportunity.stage_changed", ago(days=1), opportunity_id="OW2", stage="x", amount=200
        ),
        event("opportunity.won", ago(hours=2), opportunity_id="OW2"),
        opportunity("OW3", ago(days=9), "t", 1000),  # no channel: never in ROI
        event("opportunity.won", ago(hours=2), opportunity_id="OW3"),
        opportunity("OW4", ago(days=9), "t", 50, channel="referral"),
        event("opportunity.won", ago(hours=2), opportunity_id="OW4"),
        opportunity("OW5", ago(days=9), "t", 10000, channel="web"),
        event("opportunity.won", ago(days=3), opportunity_id="OW5"),
    )
    # CAC 24h: spend 100 + 50 + 300 + 0 = 450 over W1, W2, R1 -> 150; web 150/2;
    # paid_search 300/0 -> null; referral 0/1 = 0; event 0/0 -> null.
    channels_24h = {"": 150.0, "web": 75.0, "paid_search": None, "referral": 0.0, "event": None}
    assert_values(reference, "customer_acquisition_cost", "24h", channels_24h)
    # 7d: 1450 over 4 -> 362.5; web 1150/2; paid_search 300/1.
    channels_7d = {"": 362.5, "web": 575.0, "paid_search": 300.0, "referral": 0.0, "event": None}
    assert_values(reference, "customer_acquisition_cost", "7d", channels_7d)
    # ROI 24h: won with a channel 600 + 200 + 50 = 850 against 450 -> 400/450;
    # web (600 - 150)/150 = 3; paid_search (200 - 300)/300; referral and event spent 0 -> null.
    roi_24h = {"": 400 / 450, "web": 3.0, "paid_search": -1 / 3, "referral": None, "event": None}
    assert_values(reference, "marketing_roi", "24h", roi_24h)
    # 7d adds OW5 10000 and 1000 web spend: (10850 - 1450)/1450; web (10600 - 1150)/1150.
    roi_7d = {"": 9400 / 1450, "web": 9450 / 1150, "paid_search": -1 / 3, "referral": None}
    assert_values(reference, "marketing_roi", "7d", {**roi_7d, "event": None})


def test_nps() -> None:
    reference = run(
        clock(),
        *(
            event("survey.nps", ago(hours=1 + i), response_id=f"N{i}", score=score, segment=segment)
            for i, (score, segment) in enumerate(
                [(10, "smb"), (9, "smb"), (8, "smb"), (6, "smb"), (0, "ent"), (7, "mid")]
            )
        ),
    )
    # 24h, all six: promoters 2, detractors 2 of 6 -> 0; smb 100 * (2 - 1)/4 = 25; ent -100;
    # mid has a passive only: 0.
    assert_values(reference, "nps", "24h", {"": 0.0, "smb": 25.0, "ent": -100.0, "mid": 0.0})
    # 1h (from 11:01): nothing (the newest is 11:00) -> null.
    assert_values(reference, "nps", "1h", {"": None, "smb": None, "ent": None, "mid": None})


def test_every_kpi_has_its_windows() -> None:
    reference = run(clock())
    windows: dict[str, set[str]] = {}
    for kpi, window, _ in reference.series:
        windows.setdefault(kpi, set()).add(window)
    all_windows = {"1h", "24h", "7d", "30d", "prev_24h", "prev_7d", "prev_30d", "mtd", "qtd"}
    assert windows == {
        "open_pipeline_value": {"now"},
        "active_customers": {"now"},
        "mrr": {"now"},
        "customer_lifetime_value": {"30d"},
        **{
            kpi: all_windows
            for kpi in [
                "lead_conversion_rate",
                "sales_cycle_days",
                "rep_activities",
                "opportunity_creation_ratio",
                "customer_retention_rate",
                "csat",
                "resolution_time_hours",
                "churn_rate",
                "marketing_conversion_rate",
                "customer_acquisition_cost",
                "marketing_roi",
                "nps",
                "first_contact_resolution_rate",
                "win_rate",
                "won_amount",
            ]
        },
    }


# --- compare_snapshot ------------------------------------------------------------------------


def small_reference() -> Reference:
    return run(
        clock(),
        event("survey.csat", ago(hours=1), response_id="R1", score=5, team="a"),
        event("survey.csat", ago(hours=2), response_id="R2", score=3, team="b"),
        event("survey.csat", ago(hours=3), response_id="R2", score=9, team="b"),  # schema
    )


def snapshot_of(reference: Reference) -> dict[str, object]:
    """The /kpis JSON the monitor should answer, every series included."""
    watermark = reference.watermark
    return {
        "watermark": None if watermark is None else stamp(watermark),
        "lag": 0,
        "events": {"accepted": reference.accepted, "rejected": dict(reference.rejected)},
        "kpis": [
            {"kpi": kpi, "window": window, "labels": dict(labels), "value": value}
            for (kpi, window, labels), value in reference.series.items()
        ],
    }


def entries(snapshot: dict[str, object]) -> list[dict[str, object]]:
    kpis = snapshot["kpis"]
    assert isinstance(kpis, list)
    return kpis


def find(snapshot: dict[str, object], kpi: str, window: str, **labels: str) -> dict[str, object]:
    return next(
        entry
        for entry in entries(snapshot)
        if (entry["kpi"], entry["window"], entry["labels"]) == (kpi, window, labels)
    )


def test_an_identical_snapshot_has_no_mismatch() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    assert reference.value("csat", "24h", team="a") == 1.0
    assert compare_snapshot(reference, snapshot) == []
    snapshot["watermark"] = "2026-03-31T14:00:00+02:00"  # the same instant
    assert compare_snapshot(reference, snapshot) == []


def test_values_are_equal_within_the_relative_tolerance() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    find(snapshot, "csat", "24h")["value"] = 0.5 * (1 + 1e-12)
    assert compare_snapshot(reference, snapshot) == []
    find(snapshot, "csat", "24h")["value"] = 0.5 * (1 + 1e-6)
    assert compare_snapshot(reference, snapshot) == [
        f"csat 24h {{}}: expected 0.5, got {0.5 * (1 + 1e-6)!r}"
    ]


def test_zero_or_null_series_may_be_missing_but_not_others() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    kept = [
        entry
        for entry in entries(snapshot)
        if entry["value"] not in (None, 0)  # e.g. rep_activities 0, csat 1h null
    ]
    assert len(kept) < len(entries(snapshot))
    snapshot["kpis"] = kept
    assert compare_snapshot(reference, snapshot) == []
    # csat of team b is 0.0 in every window: it may be missing.
    snapshot["kpis"] = [entry for entry in kept if entry["labels"] != {"team": "b"}]
    assert compare_snapshot(reference, snapshot) == []
    snapshot["kpis"] = [entry for entry in kept if entry["labels"] != {"team": "a"}]
    # The 5 of team a came at 11:00, before the 1h window (11:01): csat 1h {team=a} is null.
    assert compare_snapshot(reference, snapshot) == [
        "csat 24h {team=a}: missing, expected 1.0",
        "csat 30d {team=a}: missing, expected 1.0",
        "csat 7d {team=a}: missing, expected 1.0",
        "csat mtd {team=a}: missing, expected 1.0",
        "csat qtd {team=a}: missing, expected 1.0",
    ]


def test_extra_series_must_be_zero_or_null() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    entries(snapshot).append(
        {"kpi": "csat", "window": "24h", "labels": {"team": "z"}, "value": None}
    )
    entries(snapshot).append({"kpi": "nps", "window": "1h", "labels": {"segment": "z"}, "value": 0})
    assert compare_snapshot(reference, snapshot) == []
    entries(snapshot).append(
        {"kpi": "win_rate", "window": "1h", "labels": {"team": "z"}, "value": 1}
    )
    assert compare_snapshot(reference, snapshot) == [
        "win_rate 1h {team=z}: unexpected series with value 1"
    ]


def test_null_and_zero_differ_when_present() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    find(snapshot, "csat", "24h", team="b")["value"] = None  # reference 0.0
    find(snapshot, "sales_cycle_days", "24h")["value"] = 0  # reference null
    assert compare_snapshot(reference, snapshot) == [
        "csat 24h {team=b}: expected 0.0, got None",
        "sales_cycle_days 24h {}: expected None, got 0",
    ]


def test_watermark_and_event_counts_are_compared() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    assert reference.rejected == {"schema": 1}
    snapshot["watermark"] = "2026-03-31T11:59:00Z"
    snapshot["events"] = {"accepted": 2, "rejected": {"schema": 1, "duplicate": 0}}
    assert compare_snapshot(reference, snapshot) == [
        "watermark: expected 2026-03-31T12:00:00+00:00, got '2026-03-31T11:59:00Z'",
        "accepted: expected 3, got 2",
    ]
    snapshot["watermark"] = "2026-03-31T12:00:00Z"
    snapshot["events"] = {"accepted": 3, "rejected": {"duplicate": 2}}
    assert compare_snapshot(reference, snapshot) == [
        "rejected schema: expected 1, got 0",
        "rejected duplicate, too_late: expected [0, 0] (± 0 between them), got [2, 0]",
    ]


def test_ambiguous_redeliveries_may_move_between_duplicate_and_too_late() -> None:
    reference = replace(small_reference(), rejected={"duplicate": 3, "too_late": 1}, ambiguous=2)
    snapshot = snapshot_of(reference)
    for duplicate, too_late, equal in ((3, 1, True), (1, 3, True), (0, 4, False), (2, 1, False)):
        rejected = {"duplicate": duplicate, "too_late": too_late}
        snapshot["events"] = {"accepted": reference.accepted, "rejected": rejected}
        assert (compare_snapshot(reference, snapshot) == []) is equal, (duplicate, too_late)


def test_the_comparison_can_be_limited_to_some_kpis() -> None:
    reference = small_reference()
    snapshot = snapshot_of(reference)
    find(snapshot, "csat", "24h")["value"] = 0.25
    snapshot["kpis"] = [
        *entries(snapshot),
        {"kpi": "nps", "window": "1h", "labels": {"segment": "z"}, "value": 7},
    ]
    assert compare_snapshot(reference, snapshot, kpis={"rep_activities", "mrr"}) == []
    assert len(compare_snapshot(reference, snapshot, kpis={"csat", "nps"})) == 2


# --- State retention (KPIS.md "State retention", G = 35 days) ---------------------------------


def logged(at: str, event_id: str | None = None) -> str:
    """An activity; the same `activity_id` keeps them in one partition, so one `T`."""
    fields = {"activity_id": "a", "kind": "call", "rep": "r", "team": "t"}
    if event_id is None:
        return event("activity.logged", at, **fields)
    return json.dumps({"event_id": event_id, "type": "activity.logged", "occurred_at": at} | fields)


def test_an_event_older_than_the_grace_period_about_nothing_held_is_too_late() -> None:
    reference = run(logged(stamp(T)), logged(ago(days=35, seconds=1)), logged(ago(days=34)))
    assert (reference.accepted, reference.rejected) == (2, {"too_late": 1})


def test_the_grace_period_is_judged_by_the_events_own_partition() -> None:
    reference = run(clock(), logged(ago(days=40)))  # the clock is on crm.tickets
    assert (reference.accepted, reference.rejected) == (2, {})


def test_a_redelivery_is_duplicate_within_the_grace_period_and_too_late_past_it() -> None:
    reference = run(
        logged(ago(days=50), "old"),
        logged(ago(days=20)),
        logged(ago(days=50), "old"),  # T - G = 55 days ago: duplicate
        logged(stamp(T)),
        logged(ago(days=50), "old"),  # T - G = 35 days ago: too_late
        logged(ago(hours=2), "old"),  # a new event may use the forgotten id
    )
    assert (reference.accepted, reference.rejected) == (4, {"duplicate": 1, "too_late": 1})
    assert reference.value("rep_activities", "24h") == 2


def test_a_closed_entity_is_forgotten_an_open_one_held() -> None:
    opp = {"amount": 10, "stage": "s", "rep": "r", "team": "t"}
    same = {"opportunity_id": "o"}
    reference = run(
        event("opportunity.created", ago(days=60), **same, **opp),
        event("opportunity.stage_changed", stamp(T), **same, stage="x"),
        event("opportunity.stage_changed", ago(days=50), **same, stage="y"),  # open: held
        event("opportunity.won", ago(days=40), **same),  # held (open until now)
        event("opportunity.lost", ago(days=40), **same),  # held, closed: invalid_transition
    )
    assert reference.rejected == {"invalid_transition": 1}
    # another opportunity of the same partition moves its T
    other = next(f"p{n}" for n in itertools.count() if same_partition(f"p{n}", "o"))
    reference = run(
        event("opportunity.created", ago(days=60), **same, **opp),
        event("opportunity.won", ago(days=59), **same),
        event("opportunity.created", stamp(T), opportunity_id=other, **opp),
        event("opportunity.lost", ago(days=58), **same),  # forgotten: too_late
        event("opportunity.won", ago(days=1), **same),  # forgotten: unknown_entity
        event("opportunity.created", ago(days=1), **same, **opp),  # a new one
        event("opportunity.lost", ago(days=58), **same),  # about the new one, held
    )
    assert (reference.accepted, reference.rejected) == (5, {"too_late": 1, "unknown_entity": 1})


def same_partition(key: str, other: str) -> bool:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS == (
        murmur2(other.encode()) & 0x7FFFFFFF
    ) % PARTITIONS
