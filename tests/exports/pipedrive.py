"""Pipedrive's deals, leads and activities CSV exports, written from canonical events.

What they carry (and so `carried`): a deal's creation with its last value, owner and
source channel; its last stage change (the stage it is in); its close as won or lost, with
the lost reason. A lead's creation and source channel, for leads still in the Leads Inbox
(a lead converted to a deal leaves it). Every done activity: its type, assigned user,
deal and lead, at the time it was marked done. Not carried: teams (Pipedrive has none
unless a custom field), stage and amount history, a lead's contact, qualification and
conversion, a deal's lead, customers' subscriptions, tickets, surveys, spend.
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
    write_csv,
)

PIPELINE = "Sales pipeline"
UNASSIGNED = "unassigned"
DEAL_HEADER = [
    "Deal - ID",
    "Deal - Title",
    "Deal - Owner",
    "Deal - Value",
    "Deal - Currency of value",
    "Deal - Pipeline",
    "Deal - Stage",
    "Deal - Status",
    "Deal - Deal created",
    "Deal - Last stage change",
    "Deal - Won time",
    "Deal - Lost time",
    "Deal - Deal closed on",
    "Deal - Lost reason",
    "Deal - Source channel",
]
LEAD_HEADER = [
    "Lead - ID",
    "Lead - Title",
    "Lead - Owner",
    "Lead - Source",
    "Lead - Source channel",
    "Lead - Lead created",
]
ACTIVITY_HEADER = [
    "Activity - ID",
    "Activity - Subject",
    "Activity - Type",
    "Activity - Done",
    "Activity - Due date",
    "Activity - Marked as done time",
    "Activity - Assigned to user",
    "Deal - ID",
    "Lead - ID",
]


def _last_stage(deal: dict[str, Any]) -> tuple[str, str] | None:
    """(stage, time) of the deal's last stage change, if it had one."""
    entered: dict[str, str] = deal["entered"]
    return max(entered.items(), key=lambda item: item[1], default=None)


def _leads(events: list[Event]) -> list[Event]:
    """The creation of each lead still in the Leads Inbox: not made a deal."""
    made_deals = {e.get("lead_id") for e in events if e["type"] == "opportunity.created"}
    return [e for e in events if e["type"] == "lead.created" and e["lead_id"] not in made_deals]


def _done(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] == "activity.logged"]


def _deal_row(deal_id: str, deal: dict[str, Any]) -> dict[str, str]:
    created, closed = deal["created"], deal.get("closed")
    outcome = closed["type"].rpartition(".")[2] if closed else "open"
    stage, changed_at = _last_stage(deal) or (created["stage"], "")
    closed_at = export_time(closed["occurred_at"]) if closed else ""
    return {
        "Deal - ID": deal_id,
        "Deal - Title": f"Deal {deal_id}",
        "Deal - Owner": created["rep"],
        "Deal - Value": str(deal["amount"]),
        "Deal - Currency of value": "USD",
        "Deal - Pipeline": PIPELINE,
        "Deal - Stage": as_title(stage),
        "Deal - Status": as_title(outcome),
        "Deal - Deal created": export_time(created["occurred_at"]),
        "Deal - Last stage change": export_time(changed_at) if changed_at else "",
        "Deal - Won time": closed_at if outcome == "won" else "",
        "Deal - Lost time": closed_at if outcome == "lost" else "",
        "Deal - Deal closed on": closed_at,
        "Deal - Lost reason": as_title(closed.get("reason", "")) if closed else "",
        "Deal - Source channel": as_title(created.get("channel", "")),
    }


def _lead_row(created: Event) -> dict[str, str]:
    return {
        "Lead - ID": created["lead_id"],
        "Lead - Title": f"Lead {created['lead_id']}",
        "Lead - Source": "Web forms",
        "Lead - Source channel": as_title(created["channel"]),
        "Lead - Lead created": export_time(created["occurred_at"]),
    }


def _activity_row(done: Event) -> dict[str, str]:
    return {
        "Activity - ID": done["activity_id"],
        "Activity - Subject": f"{as_title(done['kind'])} {done['activity_id']}",
        "Activity - Type": as_title(done["kind"]),
        "Activity - Done": "Done",
        "Activity - Due date": done["occurred_at"][:10],
        "Activity - Marked as done time": export_time(done["occurred_at"]),
        "Activity - Assigned to user": done["rep"],
        "Deal - ID": done.get("opportunity_id", ""),
        "Lead - ID": done.get("lead_id", ""),
    }


def write_exports(events: list[Event], directory: Path) -> list[Path]:
    """deals.csv, leads.csv and activities.csv as Pipedrive exports them."""
    deals = [_deal_row(deal_id, deal) for deal_id, deal in deals_of(events).items()]
    leads = [_lead_row(created) for created in _leads(events)]
    activities = [_activity_row(done) for done in _done(events)]
    return [
        write_csv(directory / "deals.csv", DEAL_HEADER, deals),
        write_csv(directory / "leads.csv", LEAD_HEADER, leads),
        write_csv(directory / "activities.csv", ACTIVITY_HEADER, activities),
    ]


def carried(events: list[Event]) -> list[str]:
    """The canonical events the three exports still carry, in log order (ties kept)."""
    kept: list[Event] = []
    for deal in deals_of(events).values():
        created, closed = deal["created"], deal.get("closed")
        fields = {"amount": deal["amount"], "stage": "new", "rep": as_label(created["rep"])}
        kept.append(
            {
                **{key: value for key, value in created.items() if key != "lead_id"},
                **fields,
                "team": UNASSIGNED,
            }
        )
        if last := _last_stage(deal):
            stage, at = last
            kept.append(
                {
                    "event_id": f"{created['event_id']}-last-stage",
                    "type": "opportunity.stage_changed",
                    "occurred_at": at,
                    "opportunity_id": created["opportunity_id"],
                    "stage": as_label(stage),
                }
            )
        if closed:
            kept.append({key: value for key, value in closed.items() if key != "amount"})
    kept += [{k: v for k, v in created.items() if k != "campaign_id"} for created in _leads(events)]
    kept += [
        {**done, "kind": as_label(done["kind"]), "rep": as_label(done["rep"]), "team": UNASSIGNED}
        for done in _done(events)
    ]
    return in_log_order(kept)
