"""HubSpot's deals, contacts and tickets CSV exports, written from canonical events.

What they carry (and so `carried`): a deal's creation with its last amount, owner, team,
source; the last time it entered each open stage; its close as won or lost. A contact's
creation and source, first outreach (owner, team), SQL and customer dates. A ticket's
creation, team, priority and its last close. Not carried: amount history, ticket replies
and reopens, activities, customers' subscriptions, surveys, spend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.exports import (
    Event,
    as_label,
    as_title,
    deals_of,
    export_time,
    in_log_order,
    tickets_of,
    write_csv,
)

PIPELINE = "Sales Pipeline"
PRIORITIES = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}


def _contacts(events: list[Event]) -> dict[str, dict[str, Event]]:
    contacts: dict[str, dict[str, Event]] = {}
    for event in events:
        kind, lead_id = event["type"], event.get("lead_id")
        if kind == "lead.created":
            contacts[lead_id] = {"created": event}
        elif lead_id in contacts:
            contacts[lead_id].setdefault(kind.rpartition(".")[2], event)  # the first one
    return contacts


def write_exports(events: list[Event], directory: Path) -> list[Path]:
    """deals.csv, contacts.csv and tickets.csv as HubSpot exports them."""
    deals = deals_of(events)
    stages = sorted({stage for deal in deals.values() for stage in deal["entered"]})
    entered = {stage: f'Date entered "{as_title(stage)} ({PIPELINE})"' for stage in stages}
    deal_rows = []
    for deal_id, deal in deals.items():
        created, closed = deal["created"], deal.get("closed")
        outcome = closed["type"].rpartition(".")[2] if closed else None
        row = {
            "Record ID": deal_id,
            "Deal Name": f"Deal {deal_id}",
            "Pipeline": PIPELINE,
            "Deal Stage": {"won": "Closed Won", "lost": "Closed Lost"}.get(
                outcome or "", as_title(created["stage"])
            ),
            "Amount": str(deal["amount"]),
            "Create Date": export_time(created["occurred_at"]),
            "Close Date": export_time(closed["occurred_at"]) if closed else "",
            "Deal owner": created["rep"],
            "HubSpot Team": created["team"],
            "Original Source Type": created.get("channel", ""),
        }
        for stage, at in deal["entered"].items():
            row[entered[stage]] = export_time(at)
        deal_rows.append(row)
    deal_header = [
        "Record ID",
        "Deal Name",
        "Pipeline",
        "Deal Stage",
        "Amount",
        "Create Date",
        "Close Date",
        "Deal owner",
        "HubSpot Team",
        "Original Source Type",
        *entered.values(),
    ]

    contact_rows = []
    for lead_id, facts in _contacts(events).items():
        contacted = facts.get("contacted")
        qualified, converted = facts.get("qualified"), facts.get("converted")
        contact_rows.append(
            {
                "Record ID": lead_id,
                "Email": f"{lead_id}@example.com",
                "Create Date": export_time(facts["created"]["occurred_at"]),
                "Original Source": facts["created"]["channel"],
                "Lifecycle Stage": "Customer" if converted else "Lead",
                "Contact owner": contacted["rep"] if contacted else "",
                "HubSpot Team": contacted["team"] if contacted else "",
                "First outreach date": export_time(contacted["occurred_at"]) if contacted else "",
                "Became a Sales Qualified Lead Date": export_time(qualified["occurred_at"])
                if qualified
                else "",
                "Became a Customer Date": export_time(converted["occurred_at"])
                if converted
                else "",
            }
        )
    contact_header = [
        "Record ID",
        "Email",
        "Create Date",
        "Original Source",
        "Lifecycle Stage",
        "Contact owner",
        "HubSpot Team",
        "First outreach date",
        "Became a Sales Qualified Lead Date",
        "Became a Customer Date",
    ]

    ticket_rows = []
    for ticket_id, ticket in tickets_of(events).items():
        opened, closed = ticket["opened"], ticket["closed"]
        ticket_rows.append(
            {
                "Ticket ID": ticket_id,
                "Ticket name": f"Ticket {ticket_id}",
                "Pipeline": "Support Pipeline",
                "Ticket status": "Closed" if closed else "Waiting on us",
                "Priority": PRIORITIES[opened["priority"]],
                "HubSpot Team": opened["team"],
                "Create date": export_time(opened["occurred_at"]),
                "Close date": export_time(closed["occurred_at"]) if closed else "",
            }
        )
    ticket_header = [
        "Ticket ID",
        "Ticket name",
        "Pipeline",
        "Ticket status",
        "Priority",
        "HubSpot Team",
        "Create date",
        "Close date",
    ]
    return [
        write_csv(directory / "deals.csv", deal_header, deal_rows),
        write_csv(directory / "contacts.csv", contact_header, contact_rows),
        write_csv(directory / "tickets.csv", ticket_header, ticket_rows),
    ]


def carried(events: list[Event]) -> list[str]:
    """The canonical events the three exports still carry, in log order (ties kept)."""
    kept: list[Event] = []

    def keep(event: Event, **fields: Any) -> None:
        kept.append({**event, **fields})

    for deal in deals_of(events).values():
        created = deal["created"]
        fields = {
            "amount": deal["amount"],
            "stage": "new",
            "rep": as_label(created["rep"]),
            "team": as_label(created["team"]),
        }
        keep({key: value for key, value in created.items() if key != "lead_id"}, **fields)
        for stage, at in deal["entered"].items():
            event_id = f"{created['event_id']}-{stage}"
            keep(
                {
                    "event_id": event_id,
                    "type": "opportunity.stage_changed",
                    "occurred_at": at,
                    "opportunity_id": created["opportunity_id"],
                    "stage": as_label(stage),
                }
            )
        if deal.get("closed"):
            keep({key: value for key, value in deal["closed"].items() if key != "amount"})
    for facts in _contacts(events).values():
        keep(facts["created"])
        if "contacted" in facts:
            contacted = facts["contacted"]
            keep(contacted, rep=as_label(contacted["rep"]), team=as_label(contacted["team"]))
        for step in ("qualified", "converted"):
            if step in facts:
                keep({k: v for k, v in facts[step].items() if k != "customer_id"})
    for ticket in tickets_of(events).values():
        keep(ticket["opened"])
        if ticket["closed"]:
            keep(ticket["closed"])
    return in_log_order(kept)
