"""The Zendesk preset without a broker: its columns, counts, ratings, ids and bad rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.backfill.load import Backfill, load_exports, mixed_exports
from streams.http.ingest import zendesk as webhook
from streams.simulate import simulate_history
from tests.exports import zendesk
from tests.ingest_fixtures import FIXTURES
from tests.streams.backfill.reading import events_of, read_export

REAL = FIXTURES / "real" / "zendesk"
HEADER = (
    "Id,Group,Status,Priority,Created at,Solved at,Organization,Reopens,Replies,"
    "First resolution time in minutes\n"
)


def _tickets(tmp_path: Path, *rows: str) -> Backfill:
    return read_export(
        tmp_path, "zendesk", "tickets.csv", HEADER + "".join(row + "\n" for row in rows)
    )


def _steps(found: Backfill) -> list[tuple[str, str]]:
    return [(e["type"], e["occurred_at"]) for e in events_of(found)]


@pytest.mark.parametrize("form", ["csv", "json"])
def test_exports_of_a_simulated_history_read_back_as_exactly_what_they_carry(
    tmp_path: Path, form: zendesk.Form
) -> None:
    events = [json.loads(line) for line in simulate_history(19, 12)]
    files = list(map(str, zendesk.write_exports(events, tmp_path, form)))
    found = load_exports(mixed_exports(files, "zendesk", None), lambda _: None)
    carried = [json.loads(line) for line in zendesk.carried(events, form)]
    assert found.refused == []
    assert {e["type"] for e in carried} >= {"ticket.reopened", "ticket.replied", "survey.csat"}
    assert sorted(map(_sorted_keys, events_of(found))) == sorted(map(_sorted_keys, carried))


def _sorted_keys(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def test_a_ticket_never_reopened_is_solved_at_solved_at_with_at_most_two_replies(
    tmp_path: Path,
) -> None:
    found = _tickets(
        tmp_path, "7,Support EU,Solved,High,2026-03-02 10:00:00,2026-03-02 14:30:00,acme,0,5,270"
    )
    opened, *rest = events_of(found)
    assert opened == {
        "event_id": "zendesk-ticket-7-created",
        "type": "ticket.opened",
        "occurred_at": "2026-03-02T10:00:00Z",
        "source": "zendesk",
        "ticket_id": "7",
        "team": "support_eu",
        "priority": "high",
        "customer_id": "acme",
    }
    assert [(e["type"], e["occurred_at"], e["event_id"]) for e in rest] == [
        ("ticket.replied", "2026-03-02T10:00:00Z", "zendesk-ticket-7-reply_1"),
        ("ticket.replied", "2026-03-02T10:00:00Z", "zendesk-ticket-7-reply_2"),
        ("ticket.resolved", "2026-03-02T14:30:00Z", "zendesk-ticket-7-resolved-1772461800000"),
    ]


def test_a_reopened_ticket_is_first_solved_after_its_first_resolution_time(
    tmp_path: Path,
) -> None:
    solved_again = _tickets(tmp_path, "8,,Closed,,2026-03-02 11:00:00,2026-03-05 09:00:00,,2,1,95")
    still_open = _tickets(tmp_path, "9,,Open,Urgent,2026-03-02 11:00:00,,,1,0,95")
    assert _steps(solved_again) == [
        ("ticket.opened", "2026-03-02T11:00:00Z"),
        ("ticket.replied", "2026-03-02T11:00:00Z"),
        ("ticket.resolved", "2026-03-02T12:35:00Z"),
        ("ticket.reopened", "2026-03-02T12:35:01Z"),
        ("ticket.resolved", "2026-03-05T09:00:00Z"),
    ]
    assert _steps(still_open) == [
        ("ticket.opened", "2026-03-02T11:00:00Z"),
        ("ticket.resolved", "2026-03-02T12:35:00Z"),
        ("ticket.reopened", "2026-03-02T12:35:01Z"),
    ]
    assert events_of(solved_again)[0]["team"] == "unassigned"
    assert events_of(still_open)[0]["priority"] == "urgent"


def test_good_is_csat_5_bad_csat_1_and_an_offered_survey_no_response(tmp_path: Path) -> None:
    ratings = [
        {"ticket_id": 7, "group_id": 36, "score": "good", "updated_at": "2026-03-02T16:00:00Z"},
        {"ticket_id": 8, "group_id": None, "score": "bad", "updated_at": "2026-03-03T16:00:00Z"},
        {"ticket_id": 9, "group_id": 36, "score": "offered", "updated_at": "2026-03-04T16:00:00Z"},
    ]
    found = read_export(tmp_path, "zendesk", "satisfaction_ratings.json", json.dumps(ratings))
    assert found.refused == []
    assert [(e["event_id"], e["score"], e["team"]) for e in events_of(found)] == [
        ("zendesk-ticket-7-rated", 5, "group_36"),
        ("zendesk-ticket-8-rated", 1, "unassigned"),
    ]
    assert events_of(found)[0]["response_id"] == events_of(found)[0]["ticket_id"] == "7"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "tickets.csv",
            HEADER + "7,,Open,,2026-03-02 10:00:00,,,x,0,\n",
            'tickets.csv:2: Reopens "x" is not a number',
        ),
        (
            "tickets.csv",
            HEADER + "7,,Open,,2026-03-02 10:00:00,,,1,-2,9\n",
            'tickets.csv:2: Replies "-2" is negative',
        ),
        (
            "tickets.csv",
            HEADER + "7,,Solved,,2026-03-02 10:00:00,,,0,1,\n",
            "tickets.csv:2: Solved at is empty for a Solved ticket",
        ),
        (
            "tickets.csv",
            HEADER + "7,,Open,,2026-03-02 10:00:00,,,1,1,\n",
            "tickets.csv:2: First resolution time in minutes is empty for a Open ticket",
        ),
        (
            "tickets.csv",
            HEADER + "7,,Solved,,2026-03-02 10:00:00,2026-03-02 10:30:00,,1,1,45\n",
            'tickets.csv:2: Solved at "2026-03-02 10:30:00" is not after the first resolution'
            " (2026-03-02T10:45:00Z) of a reopened ticket",
        ),
        (
            "tickets.csv",
            HEADER + "7,,Open,Critical,2026-03-02 10:00:00,,,0,0,\n",
            "tickets.csv:2: ticket.opened: Invalid enum value 'Critical' - at `$.priority`",
        ),
        (
            "satisfaction_ratings.jsonl",
            '{"ticket_id": 7, "score": "meh", "updated_at": "2026-03-02T16:00:00Z"}\n',
            'satisfaction_ratings.jsonl:1: Score "meh" is no Zendesk rating'
            " (good, bad, offered, unoffered)",
        ),
    ],
)
def test_a_bad_row_is_one_clear_line_and_gives_no_event(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    found = read_export(tmp_path, "zendesk", name, text)
    [refused] = found.refused
    assert refused.message.startswith(message)
    assert "\n" not in refused.message
    assert found.events == []


def _webhook(name: str, **changes: Any) -> bytes:
    body = orjson.loads((REAL / name).read_bytes())
    return orjson.dumps({**body, **changes})


def test_webhook_and_export_give_one_fact_the_same_event_id(tmp_path: Path) -> None:
    """Ticket 5158 of the real webhook payloads, opened, solved, reopened, solved again;
    the export dates the first resolution to the minute and the reopening a second later."""
    reopen = {"current": "OPEN", "previous": "SOLVED"}
    solve = {"current": "SOLVED", "previous": "OPEN"}
    bodies = [
        (REAL / "02-ticket-created.json").read_bytes(),
        _webhook("06-ticket-status-solved.json", time="2025-01-08T16:45:07.5Z"),
        _webhook("06-ticket-status-solved.json", time="2025-01-08T16:45:08.2Z", event=reopen),
        _webhook("06-ticket-status-solved.json", time="2025-01-09T09:00:00.3Z", event=solve),
    ]
    from_webhook = [e for body in bodies for item in webhook.adapt(body) for e in item.events]
    incremental = {
        "id": 5158,
        "created_at": "2025-01-08T10:12:07Z",
        "status": "solved",
        "priority": "high",
        "group_id": 8447320466430,
        "organization_id": 8447346622462,
        "metric_set": {
            "solved_at": "2025-01-09T09:00:00Z",
            "reopens": 1,
            "replies": 0,
            "first_resolution_time_in_minutes": {"calendar": 393, "business": 393},
        },
    }
    from_export = events_of(
        read_export(tmp_path, "zendesk", "tickets.jsonl", json.dumps(incremental) + "\n")
    )
    assert [e["type"] for e in from_webhook] == [
        "ticket.opened",
        "ticket.resolved",
        "ticket.reopened",
        "ticket.resolved",
    ]
    assert [e["event_id"] for e in from_webhook] == [e["event_id"] for e in from_export]
    same_fields = [{k: v for k, v in e.items() if k != "occurred_at"} for e in from_webhook]
    assert same_fields == [{k: v for k, v in e.items() if k != "occurred_at"} for e in from_export]


def test_a_webhook_reply_keeps_the_webhook_id() -> None:
    body = (REAL / "05-ticket-comment-added-agent.json").read_bytes()
    [item] = webhook.adapt(body)
    [reply] = item.events
    assert reply["event_id"] == f"zendesk-{orjson.loads(body)['id']}"


def test_a_mapping_file_renames_the_columns_the_counts_are_read_from(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "preset: zendesk\ntimezone: Europe/Berlin\n"
        "columns: {Reopens: Wiedereröffnungen, First resolution time in minutes: Erste Lösung}\n"
    )
    path = tmp_path / "tickets.csv"
    path.write_text(
        "Id,Status,Created at,Solved at,Wiedereröffnungen,Replies,Erste Lösung\n"
        "7,Solved,2026-03-02 10:00:00,2026-03-03 10:00:00,1,0,30\n"
    )
    found = load_exports(mixed_exports([str(path)], None, mapping), lambda _: None)
    assert _steps(found) == [
        ("ticket.opened", "2026-03-02T09:00:00Z"),
        ("ticket.resolved", "2026-03-02T09:30:00Z"),
        ("ticket.reopened", "2026-03-02T09:30:01Z"),
        ("ticket.resolved", "2026-03-03T09:00:00Z"),
    ]
