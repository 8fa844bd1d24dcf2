"""Salesforce's Data Loader CSV exports, written from canonical events: Lead, LeadHistory,
Opportunity, OpportunityHistory, Case, Task and Event, headed by API field names.

What they carry (and so `carried`): a lead's creation and source, its Status changes to
Working - Contacted (by whom) and Qualified, its conversion day and account. An
opportunity's creation with its last amount, owner, team, source; each stage it entered;
its close as won or lost on its CloseDate (a date: midnight UTC, never before the creation).
A case's creation, team, priority, account and its last close. Tasks and events. Not
carried: amount history, a contact's team, case replies and reopens, activities' leads and
opportunities, customers' subscriptions, surveys, spend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.exports import as_label, deals_of, in_log_order, tickets_of, write_csv

PRIORITIES = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
CLOSED = {"opportunity.won": "Closed Won", "opportunity.lost": "Closed Lost"}
STATUSES = {"lead.contacted": "Working - Contacted", "lead.qualified": "Qualified"}
Event = dict[str, Any]


def _datetime(occurred_at: str) -> str:
    """An RFC 3339 UTC time as Data Loader writes it: `2026-01-05T09:30:00.000Z`."""
    return occurred_at.replace("Z", ".000Z")


def _day(occurred_at: str) -> str:
    return occurred_at[:10]


def _close_time(closed: Event, created: Event) -> str:
    """When the backfill puts a close: midnight UTC of its day, not before the creation."""
    return max(f"{_day(closed['occurred_at'])}T00:00:00Z", created["occurred_at"])


def _title(stage: str) -> str:
    return stage.replace("_", " ").title()


def _leads(events: list[Event]) -> dict[str, dict[str, Any]]:
    leads: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, lead_id = event["type"], event.get("lead_id")
        if kind == "lead.created":
            leads[lead_id] = {"created": event, "history": []}
        elif lead_id in leads and kind in STATUSES:
            leads[lead_id]["history"].append(event)
        elif lead_id in leads and kind == "lead.converted":
            leads[lead_id]["converted"] = event
    return leads


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(path, list(dict.fromkeys(column for row in rows for column in row)), rows)


def _lead_rows(events: list[Event]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rows, history = [], []
    for lead_id, lead in _leads(events).items():
        created, converted = lead["created"], lead.get("converted")
        rows.append(
            {
                "Id": lead_id,
                "LastName": f"Lead {lead_id}",
                "Company": "Example",
                "Status": "Closed - Converted" if converted else "Open - Not Contacted",
                "LeadSource": created["channel"],
                "CreatedDate": _datetime(created["occurred_at"]),
                "IsConverted": "true" if converted else "false",
                "ConvertedDate": _day(converted["occurred_at"]) if converted else "",
                "ConvertedAccountId": (converted or {}).get("customer_id", ""),
            }
        )
        for n, change in enumerate(lead["history"]):
            history.append(
                {
                    "Id": f"017{lead_id}{n}",
                    "LeadId": lead_id,
                    "CreatedById": change.get("rep", ""),
                    "CreatedDate": _datetime(change["occurred_at"]),
                    "Field": "Status",
                    "OldValue": "",
                    "NewValue": STATUSES[change["type"]],
                }
            )
    return rows, history


def _opportunity_rows(events: list[Event]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rows, history = [], []
    for deal_id, deal in deals_of(events).items():
        created, closed = deal["created"], deal.get("closed")
        stage = CLOSED[closed["type"]] if closed else _title(created["stage"])
        rows.append(
            {
                "Id": deal_id,
                "Name": f"Deal {deal_id}",
                "StageName": stage,
                "Amount": str(deal["amount"]),
                "CreatedDate": _datetime(created["occurred_at"]),
                "CloseDate": _day((closed or created)["occurred_at"]),
                "IsClosed": "true" if closed else "false",
                "IsWon": "true" if closed and closed["type"] == "opportunity.won" else "false",
                "OwnerId": created["rep"],
                "Team__c": created["team"],
                "LeadSource": created.get("channel", ""),
                "Loss_Reason__c": (closed or {}).get("reason", ""),
            }
        )
        entered = [created, *deal["stages"], *([closed] if closed else [])]
        for n, change in enumerate(entered):
            history.append(
                {
                    "Id": f"008{deal_id}{n}",
                    "OpportunityId": deal_id,
                    "CreatedDate": _datetime(change["occurred_at"]),
                    "StageName": CLOSED.get(change["type"]) or _title(change["stage"]),
                    "Amount": str(deal["amount"]),
                }
            )
    return rows, history


def _case_rows(events: list[Event]) -> list[dict[str, str]]:
    rows = []
    for case_id, case in tickets_of(events).items():
        opened, closed = case["opened"], case["closed"]
        rows.append(
            {
                "Id": case_id,
                "CaseNumber": case_id,
                "Status": "Closed" if closed else "Working",
                "Priority": PRIORITIES[opened["priority"]],
                "Team__c": opened["team"],
                "AccountId": opened.get("customer_id", ""),
                "CreatedDate": _datetime(opened["occurred_at"]),
                "IsClosed": "true" if closed else "false",
                "ClosedDate": _datetime(closed["occurred_at"]) if closed else "",
            }
        )
    return rows


def _activity_row(event: Event) -> dict[str, str]:
    row = {
        "Id": event["activity_id"],
        "Subject": event["kind"].title(),
        "OwnerId": event["rep"],
        "Team__c": event["team"],
        "CreatedDate": _datetime(event["occurred_at"]),
        "WhoId": event.get("lead_id", ""),
        "WhatId": event.get("opportunity_id", ""),
    }
    if event["kind"] != "meeting":
        row["TaskSubtype"] = event["kind"].title()
    return row


def write_exports(events: list[Event], directory: Path) -> list[Path]:
    """The seven CSV files of a Data Loader export, named after the preset's tables."""
    leads, lead_history = _lead_rows(events)
    opportunities, opportunity_history = _opportunity_rows(events)
    activities = [event for event in events if event["type"] == "activity.logged"]
    tables = {
        "leads": leads,
        "lead_history": lead_history,
        "opportunities": opportunities,
        "opportunity_history": opportunity_history,
        "cases": _case_rows(events),
        "tasks": [_activity_row(e) for e in activities if e["kind"] != "meeting"],
        "events": [_activity_row(e) for e in activities if e["kind"] == "meeting"],
    }
    return [_write(directory / f"{name}.csv", rows) for name, rows in tables.items()]


def carried(events: list[Event]) -> list[str]:
    """The canonical events the exports still carry, in log order (ties kept)."""
    kept: list[Event] = []

    def keep(event: Event, *dropped: str, **fields: Any) -> None:
        shown = {key: value for key, value in event.items() if key not in dropped}
        kept.append(shown | fields)

    for lead in _leads(events).values():
        created = lead["created"]
        keep(created, "campaign_id", channel=as_label(created["channel"]))
        for change in lead["history"]:
            if change["type"] == "lead.contacted":
                keep(change, team="unassigned")
            else:
                keep(change)
        if "converted" in lead:
            converted = lead["converted"]
            day = max(f"{_day(converted['occurred_at'])}T00:00:00Z", created["occurred_at"])
            keep(converted, occurred_at=day)
    for deal in deals_of(events).values():
        created, closed = deal["created"], deal.get("closed")
        fields: dict[str, Any] = {"amount": deal["amount"], "stage": "new"}
        fields["team"] = as_label(created["team"])
        if created.get("channel"):
            fields["channel"] = as_label(created["channel"])
        keep(created, "lead_id", **fields)
        for n, change in enumerate([created, *deal["stages"]]):
            keep(
                {
                    "event_id": f"{created['event_id']}-stage-{n}",
                    "type": "opportunity.stage_changed",
                    "occurred_at": change["occurred_at"],
                    "opportunity_id": created["opportunity_id"],
                    "stage": as_label(change["stage"]),
                }
            )
        if closed:
            reason = {"reason": as_label(closed["reason"])} if closed.get("reason") else {}
            keep(closed, "amount", "reason", occurred_at=_close_time(closed, created), **reason)
    for case in tickets_of(events).values():
        keep(case["opened"], team=as_label(case["opened"]["team"]))
        if case["closed"]:
            keep(case["closed"])
    for event in events:
        if event["type"] == "activity.logged":
            keep(event, "lead_id", "opportunity_id", team=as_label(event["team"]))
    return in_log_order(kept)
