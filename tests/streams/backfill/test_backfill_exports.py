"""Reading exports into canonical events without a broker: presets, mapping files, bad rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest

from streams.backfill.guard import TooLate, check_not_too_late
from streams.backfill.load import load_exports, mixed_exports
from streams.backfill.mapping import choose
from streams.config import IngestStages
from streams.errors import ConfigError
from streams.http.ingest import hubspot as webhook
from tests.processes import run_crmkpi
from tests.streams.backfill.reading import events_of, read_export

DEALS = (
    "Record ID,Deal Name,Deal Stage,Amount,Create Date,Close Date,Deal owner,HubSpot Team\n"
    "7,Big,Closed Won,1200,2026-03-02 10:00:00,2026-03-20 16:30:00,Jane Doe,EMEA Sales\n"
    '8,Odd,Appointment Scheduled,"12,5k",2026-03-03 10:00:00,,Jane Doe,EMEA Sales\n'
    "9,Lost,Closed Lost,50,2026-03-01 09:00:00,2026-03-04 09:00:00,,\n"
)


def test_a_bad_cell_refuses_its_row_in_one_line_and_loses_nothing_else(tmp_path: Path) -> None:
    found = read_export(tmp_path, "hubspot", "deals.csv", DEALS)
    assert [refused.message for refused in found.refused] == [
        'deals.csv:3: Amount "12,5k" is not a number'
    ]
    assert [(e["type"], e["opportunity_id"]) for e in events_of(found)] == [
        ("opportunity.created", "9"),
        ("opportunity.created", "7"),
        ("opportunity.lost", "9"),
        ("opportunity.won", "7"),
    ]


def test_deal_fields_come_from_the_documented_columns(tmp_path: Path) -> None:
    created = events_of(read_export(tmp_path, "hubspot", "deals.csv", DEALS))[1]
    assert created == {
        "event_id": "hubspot-deal-7-created",
        "type": "opportunity.created",
        "occurred_at": "2026-03-02T10:00:00Z",
        "source": "hubspot",
        "opportunity_id": "7",
        "amount": 1200.0,
        "stage": "new",
        "rep": "jane_doe",
        "team": "emea_sales",
    }


def test_stage_entry_columns_give_stage_changes_but_not_closing_ones(tmp_path: Path) -> None:
    deals = (
        "Record ID,Deal Stage,Amount,Create Date,Close Date,"
        '"Date entered ""Qualified To Buy (Sales Pipeline)""",'
        '"Date entered ""Closed Won (Sales Pipeline)"""\n'
        "7,Closed Won,10,2026-03-02 10:00:00,2026-03-09 10:00:00,2026-03-05 08:00:00,"
        "2026-03-09 10:00:00\n"
    )
    kinds = [
        (e["type"], e.get("stage"))
        for e in events_of(read_export(tmp_path, "hubspot", "deals.csv", deals))
    ]
    assert kinds == [
        ("opportunity.created", "new"),
        ("opportunity.stage_changed", "qualified_to_buy"),
        ("opportunity.won", None),
    ]


def test_webhook_and_export_give_one_fact_the_same_event_id(tmp_path: Path) -> None:
    created_ms, won_ms, closed_ms = 1_772_445_600_000, 1_774_024_200_000, 1_772_532_000_000
    notes = [
        {"subscriptionType": "deal.creation", "objectId": 7, "occurredAt": created_ms},
        {
            "subscriptionType": "deal.propertyChange",
            "objectId": 7,
            "occurredAt": won_ms,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
        },
        {"subscriptionType": "ticket.creation", "objectId": 31, "occurredAt": created_ms},
        {"subscriptionType": "contact.creation", "objectId": 55, "occurredAt": created_ms},
        {
            "subscriptionType": "contact.propertyChange",
            "objectId": 55,
            "occurredAt": won_ms,
            "propertyName": "lifecyclestage",
            "propertyValue": "customer",
        },
        {
            "subscriptionType": "ticket.propertyChange",
            "objectId": 31,
            "occurredAt": closed_ms,
            "propertyName": "hs_pipeline_stage",
            "propertyValue": "4",
        },
    ]
    items = webhook.adapt(orjson.dumps(notes), IngestStages())
    from_webhook = {(e["type"], e["event_id"]) for item in items for e in item.events}
    tickets = (
        "Ticket ID,Ticket status,Priority,Create date,Close date\n"
        "31,Closed,HIGH,2026-03-02 10:00:00,2026-03-03 10:00:00\n"
    )
    contacts = (
        "Record ID,Create Date,Original Source,Became a Customer Date\n"
        "55,2026-03-02 10:00:00,ORGANIC_SEARCH,2026-03-20 16:30:00\n"
    )
    exports = [("deals.csv", DEALS), ("tickets.csv", tickets), ("contacts.csv", contacts)]
    from_export = {
        (e["type"], e["event_id"])
        for name, text in exports
        for e in events_of(read_export(tmp_path, "hubspot", name, text))
        if e.get("opportunity_id") in (None, "7")
    }
    assert len(from_webhook) == 6
    assert from_webhook <= from_export


def test_a_mapping_file_renames_columns_and_adds_won_stages(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "preset: hubspot\n"
        "columns: {Deal owner: Owner}\n"
        "values: {won: [closedwon, Won (Enterprise)]}\n"
        "timezone: Europe/Berlin\n"
    )
    deals = (
        "Record ID,Deal Stage,Amount,Create Date,Close Date,Owner\n"
        "5,Won (Enterprise),10,2026-03-02,2026-03-09 10:00,Ann\n"
    )
    created, won = events_of(read_export(tmp_path, "hubspot", "deals.csv", deals, mapping=mapping))
    assert (created["rep"], created["occurred_at"]) == ("ann", "2026-03-01T23:00:00Z")
    assert (won["type"], won["occurred_at"]) == ("opportunity.won", "2026-03-09T09:00:00Z")


def test_a_bad_mapping_file_names_each_problem_on_its_own_line(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "preset: hubspot\ntimezone: Mars/Olympus\n"
        "tables:\n  deals:\n    events:\n      - {type: deal.won, at: Close Date}\n"
    )
    with pytest.raises(ConfigError) as error:
        choose(None, mapping)
    lines = str(error.value).splitlines()
    assert lines[0] == (
        f"{mapping}: timezone: unknown time zone 'Mars/Olympus' (an IANA name such as"
        " Europe/Berlin)"
    )
    assert lines[1].startswith(f"{mapping}: tables.deals.events.0.type: unknown event type")


def test_a_mapping_file_can_define_a_preset_alone(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "source: mycrm\n"
        "tables:\n"
        "  calls:\n"
        "    object: call\n"
        "    id_column: Id\n"
        "    entity_key: activity_id\n"
        "    events:\n"
        "      - type: activity.logged\n"
        "        at: When\n"
        "        required: true\n"
        "        fields:\n"
        "          kind: {value: call}\n"
        "          rep: {column: Agent, kind: label}\n"
        "          team: {value: sales}\n"
    )
    path = tmp_path / "calls.csv"
    path.write_text("Id,When,Agent\nc1,2026-03-02T10:00:00+01:00,Bo\n")
    found = load_exports(mixed_exports([str(path)], None, mapping), lambda _: None)
    assert events_of(found) == [
        {
            "event_id": "mycrm-call-c1-logged-1772442000000",
            "type": "activity.logged",
            "occurred_at": "2026-03-02T09:00:00Z",
            "source": "mycrm",
            "kind": "call",
            "rep": "bo",
            "team": "sales",
            "activity_id": "c1",
        }
    ]


def test_canonical_csv_rows_are_checked_as_produce_checksevents_of(tmp_path: Path) -> None:
    csat = (
        "response_id,occurred_at,score,team\n"
        "r1,2026-03-02T10:00:00Z,5,emea\n"
        "r2,2026-03-02T11:00:00Z,9,emea\n"
        "r3,yesterday,4,emea\n"
    )
    found = read_export(tmp_path, "canonical", "csat.csv", csat)
    assert [e["response_id"] for e in events_of(found)] == ["r1"]
    assert found.refused[0].message.startswith("csat.csv:3: survey.csat: Expected `int` <= 5")
    assert found.refused[1].message == (
        'csat.csv:4: occurred_at "yesterday" is not a date or time (ISO 8601)'
    )


def test_a_file_named_after_no_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="name it TABLE=FILE with TABLE one of deals"):
        read_export(tmp_path, "hubspot", "export.csv", DEALS)


def test_events_far_behind_the_watermark_are_refused_with_the_order_to_follow() -> None:
    day = 86_400_000_000
    check_not_too_late([100 * day], None, 35)  # no monitor, or an empty one
    check_not_too_late([100 * day], 135 * day, 35)
    with pytest.raises(TooLate, match="Backfill first, into a fresh monitor"):
        check_not_too_late([99 * day, 100 * day], 135 * day, 35)


def test_dry_run_prints_the_events_and_exits_1_on_a_refused_row(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(DEALS)
    result = run_crmkpi(
        ["backfill", "--preset", "hubspot", "--dry-run", str(path)], dict(os.environ)
    )
    assert result.returncode == 1
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == [
        "opportunity.created",
        "opportunity.created",
        "opportunity.lost",
        "opportunity.won",
    ]
    assert 'deals.csv:3: Amount "12,5k" is not a number' in result.stderr
    assert "rejected 1 (schema 1)" in result.stderr


def test_an_export_without_a_needed_column_is_refused_whole(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        read_export(tmp_path, "hubspot", "tickets.csv", "Ticket ID,Created\n31,2026-03-02\n")
    assert str(error.value) == (
        "tickets.csv: no column 'Create date': is it the tickets export of hubspot?"
        " (a mapping file's `columns` renames columns)"
    )


def test_canonical_rows_keep_their_event_id_else_get_one_from_their_record(
    tmp_path: Path,
) -> None:
    nps = (
        "event_id,response_id,occurred_at,score,segment\n"
        "ev-1,r1,2026-03-02T10:00:00Z,9,SMB\n"
        ",r2,2026-03-02T11:00:00Z,3,SMB\n"
    )
    events = events_of(read_export(tmp_path, "canonical", "nps.csv", nps))
    assert [(e["event_id"], e["segment"]) for e in events] == [
        ("ev-1", "smb"),
        ("csv-nps-r2-row", "smb"),
    ]


def test_one_history_reads_the_exports_of_several_presets_in_event_time_order(
    tmp_path: Path,
) -> None:
    (tmp_path / "deals.csv").write_text(DEALS)
    (tmp_path / "customers.csv").write_text(
        "customer_id,segment,channel,mrr,subscribed_at,churned_at,churn_reason\n"
        "c1,SMB,Web,99.5,2026-03-01T08:00:00Z,2026-03-03T08:00:00Z,price\n"
        "c2,Enterprise,Event,4000,2026-03-02T12:00:00Z,,\n"
    )
    files = [f"hubspot:{tmp_path / 'deals.csv'}", f"canonical:{tmp_path / 'customers.csv'}"]
    found = load_exports(mixed_exports(files, None, None), lambda _: None)
    events = events_of(found)
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    customers = [(e["type"], e["customer_id"]) for e in events if "customer_id" in e]
    assert customers == [
        ("customer.subscribed", "c1"),
        ("customer.subscribed", "c2"),
        ("customer.churned", "c1"),
    ]
    assert {e["source"] for e in events} == {"hubspot", "csv"}
    assert len(found.refused) == 1  # deal 8's amount


def test_a_file_prefix_that_names_no_preset_is_part_of_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothing:deals\.csv: no such file"):
        mixed_exports(["nothing:deals.csv"], "hubspot", None)
