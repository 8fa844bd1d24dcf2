"""The Pipedrive preset without a broker: its columns, value sets, bad rows, and ids equal
to the webhook adapter's for the same fact."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.config import IngestStages
from streams.errors import ConfigError
from streams.http.ingest import pipedrive as webhook
from tests.streams.backfill.reading import events_of, read_export

DEALS = (
    "Deal - ID,Deal - Title,Deal - Owner,Deal - Value,Deal - Stage,Deal - Status,"
    "Deal - Deal created,Deal - Last stage change,Deal - Won time,Deal - Lost time,"
    "Deal - Lost reason,Deal - Source channel\n"
    "7,Big,Jane Doe,1200,Negotiations Started,Won,2026-03-02 10:00:00,"
    "2026-03-05 08:00:00,2026-03-20 16:30:00,,,Paid search\n"
    '8,Odd,Jane Doe,"12,5k",Qualified,Open,2026-03-03 10:00:00,,,,,\n'
    "9,Gone,,50,Qualified,Lost,2026-03-01 09:00:00,,,2026-03-04 09:00:00,Too expensive,\n"
    "10,Fresh,Bo,300,Qualified,Open,2026-03-06 09:00:00,,,,,\n"
)
ACTIVITIES = (
    "Activity - ID,Activity - Subject,Activity - Type,Activity - Done,Activity - Due date,"
    "Activity - Marked as done time,Activity - Assigned to user,Deal - ID,Lead - ID\n"
    "41,Intro call,Call,Done,2026-03-02,2026-03-02 11:00:00,Jane Doe,7,\n"
    "42,Send quote,Task,To do,2026-03-09,,Jane Doe,7,\n"
    "43,Demo,Meeting,Done,2026-03-03,,Bo,,\n"
    "44,Follow up,Email,Done,2026-03-04,2026-03-04 15:00:00,Bo,,3f6c1e40-aa11\n"
)
LEADS = (
    "Lead - ID,Lead - Title,Lead - Source channel,Lead - Lead created\n"
    "3f6c1e40-aa11,Acme,Organic search,2026-03-01 08:00:00\n"
    "5b2d0c11-bb22,Initech,,2026-03-02 08:00:00\n"
)


def test_a_deal_gives_its_creation_last_stage_change_and_close(tmp_path: Path) -> None:
    deals = [
        e
        for e in events_of(read_export(tmp_path, "pipedrive", "deals.csv", DEALS))
        if e["opportunity_id"] == "7"
    ]
    assert deals == [
        {
            "event_id": "pipedrive-deal-7-created",
            "type": "opportunity.created",
            "occurred_at": "2026-03-02T10:00:00Z",
            "source": "pipedrive",
            "amount": 1200.0,
            "stage": "new",
            "rep": "jane_doe",
            "team": "unassigned",
            "channel": "paid_search",
            "opportunity_id": "7",
        },
        {
            "event_id": "pipedrive-deal-7-changed-2026-03-05T08:00:00Z",
            "type": "opportunity.stage_changed",
            "occurred_at": "2026-03-05T08:00:00Z",
            "source": "pipedrive",
            "stage": "negotiations_started",
            "opportunity_id": "7",
        },
        {
            "event_id": "pipedrive-deal-7-won-2026-03-20T16:30:00Z",
            "type": "opportunity.won",
            "occurred_at": "2026-03-20T16:30:00Z",
            "source": "pipedrive",
            "opportunity_id": "7",
        },
    ]


def test_status_decides_the_close_and_the_lost_reason_is_a_label(tmp_path: Path) -> None:
    found = events_of(read_export(tmp_path, "pipedrive", "deals.csv", DEALS))
    closes = [(e["type"], e["opportunity_id"], e.get("reason")) for e in found]
    assert ("opportunity.lost", "9", "too_expensive") in closes
    assert [kind for kind, deal, _ in closes if deal == "10"] == ["opportunity.created"]


def test_a_bad_deal_row_is_refused_in_one_line_and_the_others_are_read(tmp_path: Path) -> None:
    deals = DEALS + "11,Late,Bo,5,Qualified,Won,2026-03-06 09:00:00,,,,,\n"
    found = read_export(tmp_path, "pipedrive", "deals.csv", deals)
    assert [refused.message for refused in found.refused] == [
        'deals.csv:3: Deal - Value "12,5k" is not a number',
        "deals.csv:6: Deal - Won time is empty",
    ]
    assert sorted({str(e["opportunity_id"]) for e in events_of(found)}) == ["10", "7", "9"]


def test_only_done_activities_count_at_the_time_they_were_marked_done(tmp_path: Path) -> None:
    found = read_export(tmp_path, "pipedrive", "activities.csv", ACTIVITIES)
    assert [refused.message for refused in found.refused] == [
        "activities.csv:4: Activity - Marked as done time is empty"
    ]
    assert events_of(found) == [
        {
            "event_id": "pipedrive-activity-41-done",
            "type": "activity.logged",
            "occurred_at": "2026-03-02T11:00:00Z",
            "source": "pipedrive",
            "kind": "call",
            "rep": "jane_doe",
            "team": "unassigned",
            "opportunity_id": "7",
            "activity_id": "41",
        },
        {
            "event_id": "pipedrive-activity-44-done",
            "type": "activity.logged",
            "occurred_at": "2026-03-04T15:00:00Z",
            "source": "pipedrive",
            "kind": "email",
            "rep": "bo",
            "team": "unassigned",
            "lead_id": "3f6c1e40-aa11",
            "activity_id": "44",
        },
    ]


def test_a_team_custom_field_fills_the_team(tmp_path: Path) -> None:
    deals = (
        "Deal - ID,Deal - Value,Deal - Status,Deal - Deal created,Deal - Won time,"
        "Deal - Lost time,Deal - Team\n"
        "5,10,Open,2026-03-02 10:00:00,,,EMEA Sales\n"
    )
    [created] = events_of(read_export(tmp_path, "pipedrive", "deals.csv", deals))
    assert (created["team"], created["rep"], created["amount"]) == ("emea_sales", "unknown", 10.0)


def test_leads_give_their_creation_and_source_channel(tmp_path: Path) -> None:
    found = events_of(read_export(tmp_path, "pipedrive", "leads.csv", LEADS))
    assert [(e["event_id"], e["channel"]) for e in found] == [
        ("pipedrive-lead-3f6c1e40-aa11-created", "organic_search"),
        ("pipedrive-lead-5b2d0c11-bb22-created", "unknown"),
    ]


def test_an_export_without_a_needed_column_is_refused_whole(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        read_export(
            tmp_path, "pipedrive", "activities.csv", "Activity - ID,Activity - Done\n41,Done\n"
        )
    assert str(error.value).startswith(
        "activities.csv: no column 'Activity - Marked as done time':"
        " is it the activities export of pipedrive?"
    )


def _webhook_ids(entity: str, at: str, data: dict[str, object], previous: object) -> set[str]:
    """`type event_id` of each event a Pipedrive webhook v2 gives (a change when `previous`)."""
    meta = {"action": "change" if previous else "create", "entity": entity, "timestamp": at}
    body = orjson.dumps({"meta": meta, "data": data, "previous": previous})
    items = webhook.adapt(body, IngestStages())
    return {f"{e['type']} {e['event_id']}" for item in items for e in item.events}


def test_webhook_and_export_give_one_fact_the_same_event_id(tmp_path: Path) -> None:
    deal = {"id": 7, "value": 1200, "status": "open", "stage_id": 3, "owner_id": 5}
    hooks = [
        ("deal", "2026-03-02T10:00:00Z", deal, None),
        ("deal", "2026-03-05T08:00:00Z", {**deal, "stage_id": 4}, {"stage_id": 3}),
        ("deal", "2026-03-20T16:30:00Z", {**deal, "status": "won"}, {"status": "open"}),
        ("deal", "2026-03-04T09:00:00Z", {**deal, "id": 9, "status": "lost"}, {"status": "open"}),
        ("activity", "2026-03-02T11:00:00Z", {"id": 41, "done": True, "type": "call"},
         {"done": False}),
        ("lead", "2026-03-01T08:00:00Z", {"id": "3f6c1e40-aa11"}, None),
    ]  # fmt: skip
    from_webhook = set().union(*(_webhook_ids(*hook) for hook in hooks))
    exported = [("deals.csv", DEALS), ("activities.csv", ACTIVITIES), ("leads.csv", LEADS)]
    from_export = {
        f"{e['type']} {e['event_id']}"
        for name, text in exported
        for e in events_of(read_export(tmp_path, "pipedrive", name, text))
    }
    assert len(from_webhook) == 6
    assert from_webhook <= from_export
