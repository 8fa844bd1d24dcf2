"""Writers of CRM export files from canonical events, one module per CRM (round-trip tests).

Each module has `write_exports(events, directory)` (the files a CRM's export gives, with its
documented headers) and `carried(events)` (the canonical events those files still carry,
as JSON lines in log order): the reference a backfill of the files must equal.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any

_NOT_LABEL = re.compile(r"[^a-z0-9]+")


def as_label(value: str) -> str:
    """A dimension value as the backfill labels it: lower case, runs of other
    characters as one `_` (`rep-13` -> `rep_13`)."""
    return _NOT_LABEL.sub("_", value.lower()).strip("_")


def export_time(occurred_at: str) -> str:
    """An RFC 3339 UTC time as exports write it: `2026-01-05 09:30:00` (UTC)."""
    moment = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def log_rank(kind: str) -> int:
    """Within one second an entity opens before it changes and changes before it closes."""
    step = kind.rpartition(".")[2]
    return (
        0
        if step in ("created", "opened")
        else 2
        if step in ("won", "lost", "converted", "resolved")
        else 1
    )


def deals(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each opportunity's `created` event, last `amount`, `stages` (stage_changed events in
    order) and `closed` (its won or lost event), up to its close."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, deal_id = event["type"], event.get("opportunity_id")
        if kind == "opportunity.created":
            found[deal_id] = {"created": event, "amount": event["amount"], "stages": []}
        elif deal_id in found and "closed" not in found[deal_id]:
            deal = found[deal_id]
            if event.get("amount") is not None:
                deal["amount"] = event["amount"]
            if kind == "opportunity.stage_changed":
                deal["stages"].append(event)
            elif kind in ("opportunity.won", "opportunity.lost"):
                deal["closed"] = event
    return found


def tickets(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each ticket's `opened` event and its last `closed` one (None when open at the end)."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, ticket_id = event["type"], event.get("ticket_id")
        if kind == "ticket.opened":
            found[ticket_id] = {"opened": event, "closed": None}
        elif ticket_id in found and kind == "ticket.resolved":
            found[ticket_id]["closed"] = event
        elif ticket_id in found and kind == "ticket.reopened":
            found[ticket_id]["closed"] = None
    return found


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    """A CSV file with this header (cells a row lacks are empty)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path
