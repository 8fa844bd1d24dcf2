"""Writers of CRM export files from canonical events, one module per CRM (round-trip tests).

Each module has `write_exports(events, directory)` (the files a CRM's export gives, with its
documented headers) and `carried(events)` (the canonical events those files still carry,
as JSON lines in log order): the reference a backfill of the files must equal.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

Event = dict[str, Any]
_NOT_LABEL = re.compile(r"[^a-z0-9]+")


def as_label(value: str) -> str:
    """A dimension value as the backfill labels it: lower case, runs of other
    characters as one `_` (`rep-13` -> `rep_13`)."""
    return _NOT_LABEL.sub("_", value.lower()).strip("_")


def as_title(value: str) -> str:
    """A label as a CRM shows the value (`closed_won` -> `Closed Won`)."""
    return value.replace("_", " ").title()


def export_time(occurred_at: str) -> str:
    """An RFC 3339 UTC time as exports write it: `2026-01-05 09:30:00` (UTC)."""
    moment = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    """A CSV export: the header, then a row per record (absent cells empty)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def in_log_order(kept: list[Event]) -> list[str]:
    """Events as JSON lines in log order: by time; within one second an entity opens
    before it changes and changes before it closes; ties kept in the given order."""
    ranked = sorted(enumerate(kept), key=lambda e: (e[1]["occurred_at"], _rank(e[1]["type"]), e[0]))
    return [json.dumps(event) for _, event in ranked]


def _rank(kind: str) -> int:
    step = kind.rpartition(".")[2]
    if step in ("created", "opened"):
        return 0
    return 2 if step in ("won", "lost", "converted", "resolved") else 1


def deals_of(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per opportunity: its creation, latest amount, its stage changes in order (`stages`),
    the last time it entered each stage (`entered`) and its close (`closed`, when won or
    lost), up to its close."""
    deals: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, deal_id = event["type"], event.get("opportunity_id")
        if kind == "opportunity.created":
            deals[deal_id] = {"created": event, "amount": event["amount"], "stages": []}
            deals[deal_id]["entered"] = {}
        elif deal_id in deals and "closed" not in deals[deal_id]:
            deal = deals[deal_id]
            if event.get("amount") is not None:
                deal["amount"] = event["amount"]
            if kind == "opportunity.stage_changed":
                deal["stages"].append(event)
                deal["entered"][event["stage"]] = event["occurred_at"]
            elif kind in ("opportunity.won", "opportunity.lost"):
                deal["closed"] = event
    return deals


def tickets_of(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per ticket: its `opened` event and its last `closed` one (None when open at the end)."""
    tickets: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, ticket_id = event["type"], event.get("ticket_id")
        if kind == "ticket.opened":
            tickets[ticket_id] = {"opened": event, "closed": None}
        elif ticket_id in tickets and kind == "ticket.resolved":
            tickets[ticket_id]["closed"] = event
        elif ticket_id in tickets and kind == "ticket.reopened":
            tickets[ticket_id]["closed"] = None
    return tickets
