"""Zendesk's ticket export (CSV, or the incremental export's JSON lines with `metric_set`)
and satisfaction ratings (the API's JSON lines), written from canonical events.

What they carry (and so `carried`): a ticket's creation, group, priority and organization;
its agent replies and reopenings as counts; its first resolution to the minute (as
`First resolution time in minutes`) and its last one (`Solved at`) when it is solved now.
A rating's ticket, group and score as good (4, 5) or bad (1..3), at its last update. Not
carried: reply and reopening times, customer replies, ratings without a ticket, everything
that is not a ticket.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from streams.http.ingest.zendesk import zendesk_event_id
from tests.exports import as_label, export_time

Event = dict[str, Any]
Form = Literal["csv", "json"]
HEADER = [
    "Id",
    "Requester",
    "Group",
    "Status",
    "Priority",
    "Created at",
    "Solved at",
    "Organization",
    "Reopens",
    "Replies",
    "First resolution time in minutes",
    "Full resolution time in minutes",
]
COUNTED_REPLIES = 2


def _time(occurred_at: str) -> datetime:
    return datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(start: str, end: str) -> int:
    return int((_time(end) - _time(start)).total_seconds() // 60)


def _tickets(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per ticket: its opening, agent replies while open, resolutions, reopenings."""
    tickets: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, ticket_id = event["type"], event.get("ticket_id")
        if kind == "ticket.opened":
            tickets[ticket_id] = {"opened": event, "replies": 0, "solved": [], "reopens": 0}
            continue
        ticket = tickets.get(ticket_id)
        if ticket is None or not kind.startswith("ticket."):
            continue
        is_open = len(ticket["solved"]) == ticket["reopens"]
        if kind == "ticket.replied" and event["author"] == "agent" and is_open:
            ticket["replies"] += 1
        elif kind == "ticket.resolved" and is_open:
            ticket["solved"].append(event["occurred_at"])
        elif kind == "ticket.reopened" and not is_open:
            ticket["reopens"] += 1
    return tickets


def group_ids(events: list[Event]) -> dict[str, int]:
    """A Zendesk group id for every team."""
    teams = sorted({str(event["team"]) for event in events if "team" in event})
    return {team: 360_000 + n for n, team in enumerate(teams)}


def _ticket_row(ticket_id: str, ticket: dict[str, Any]) -> dict[str, str]:
    opened, solved = ticket["opened"], ticket["solved"]
    is_solved = len(solved) > ticket["reopens"]
    return {
        "Id": ticket_id,
        "Requester": "Jane Doe",
        "Group": opened["team"],
        "Status": "Solved" if is_solved else "Open",
        "Priority": opened["priority"].title(),
        "Created at": export_time(opened["occurred_at"]),
        "Solved at": export_time(solved[-1]) if is_solved else "",
        "Organization": opened.get("customer_id") or "",
        "Reopens": str(ticket["reopens"]),
        "Replies": str(ticket["replies"]),
        "First resolution time in minutes": str(_minutes(opened["occurred_at"], solved[0]))
        if solved
        else "",
        "Full resolution time in minutes": str(_minutes(opened["occurred_at"], solved[-1]))
        if is_solved
        else "",
    }


def _incremental(row: dict[str, str], group_id: int) -> dict[str, Any]:
    """A ticket of the incremental export (`include=metric_sets`) from its CSV row."""

    def iso(cell: str) -> str | None:
        return cell.replace(" ", "T") + "Z" if cell else None

    def minutes(cell: str) -> dict[str, int] | None:
        return {"calendar": int(cell), "business": int(cell)} if cell else None

    return {
        "id": row["Id"],
        "created_at": iso(row["Created at"]),
        "updated_at": iso(row["Solved at"] or row["Created at"]),
        "status": row["Status"].lower(),
        "priority": row["Priority"].lower(),
        "group_id": group_id,
        "organization_id": row["Organization"] or None,
        "metric_set": {
            "ticket_id": row["Id"],
            "solved_at": iso(row["Solved at"]),
            "reopens": int(row["Reopens"]),
            "replies": int(row["Replies"]),
            "first_resolution_time_in_minutes": minutes(row["First resolution time in minutes"]),
            "full_resolution_time_in_minutes": minutes(row["Full resolution time in minutes"]),
        },
    }


def _ratings(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] == "survey.csat" and e.get("ticket_id")]


def write_exports(events: list[Event], directory: Path, form: Form = "csv") -> list[Path]:
    """tickets.csv (or tickets.jsonl, the incremental export) and satisfaction_ratings.jsonl."""
    groups = group_ids(events)
    rows = [_ticket_row(ticket_id, ticket) for ticket_id, ticket in _tickets(events).items()]
    if form == "csv":
        tickets = directory / "tickets.csv"
        with tickets.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, HEADER)
            writer.writeheader()
            writer.writerows(rows)
    else:
        tickets = directory / "tickets.jsonl"
        lines = [_incremental(row, groups[row["Group"]]) for row in rows]
        tickets.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ratings = directory / "satisfaction_ratings.jsonl"
    with ratings.open("w") as handle:
        for n, rating in enumerate(_ratings(events), start=1):
            at = _time(rating["occurred_at"])
            record = {
                "id": n,
                "ticket_id": rating["ticket_id"],
                "group_id": groups[rating["team"]],
                "score": "good" if rating["score"] >= 4 else "bad",
                "created_at": _rfc3339(at - timedelta(hours=1)),
                "updated_at": rating["occurred_at"],
            }
            handle.write(json.dumps(record) + "\n")
    return [tickets, ratings]


def carried(events: list[Event], form: Form = "csv") -> list[str]:
    """The canonical events the exports still carry, with the backfill's ids, in log order."""
    groups = group_ids(events)
    kept: list[tuple[str, int, Event]] = []

    def keep(kind: str, ticket_id: str, at: str, milestone: str | None, **fields: Any) -> None:
        ms = int(_time(at).timestamp() * 1000)
        event_id = zendesk_event_id("ticket", ticket_id, kind, ms, milestone, None)
        event = {"event_id": event_id, "type": kind, "occurred_at": at, "source": "zendesk"}
        kept.append((at, len(kept), {**event, **fields, "ticket_id": ticket_id}))

    for ticket_id, ticket in _tickets(events).items():
        opened, solved, reopens = ticket["opened"], ticket["solved"], ticket["reopens"]
        at = opened["occurred_at"]
        team = as_label(opened["team"]) if form == "csv" else f"group_{groups[opened['team']]}"
        customer = {"customer_id": opened["customer_id"]} if opened.get("customer_id") else {}
        keep("ticket.opened", ticket_id, at, "created", team=team, **customer)
        kept[-1][2]["priority"] = opened["priority"]
        for n in range(1, min(ticket["replies"], COUNTED_REPLIES) + 1):
            keep("ticket.replied", ticket_id, at, f"reply_{n}", author="agent")
        if solved and reopens == 0:
            keep("ticket.resolved", ticket_id, solved[0], None)
        elif solved:
            first = _time(at) + timedelta(minutes=_minutes(at, solved[0]))
            keep("ticket.resolved", ticket_id, _rfc3339(first), None)
            keep("ticket.reopened", ticket_id, _rfc3339(first + timedelta(seconds=1)), None)
            if len(solved) > reopens:
                keep("ticket.resolved", ticket_id, solved[-1], None)
    for rating in _ratings(events):
        ticket_id = str(rating["ticket_id"])
        score = 5 if rating["score"] >= 4 else 1
        team = f"group_{groups[rating['team']]}"
        keep("survey.csat", ticket_id, rating["occurred_at"], "rated", score=score, team=team)
        kept[-1][2]["response_id"] = ticket_id
    kept.sort(key=lambda entry: (entry[0], _rank(entry[2]["type"]), entry[1]))
    return [json.dumps(event) for _, _, event in kept]


def _rank(kind: str) -> int:
    """Within one second a ticket opens before it changes and changes before it closes."""
    step = kind.rpartition(".")[2]
    return 0 if step == "opened" else 2 if step == "resolved" else 1
