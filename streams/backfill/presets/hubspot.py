"""HubSpot's deals, contacts and tickets CSV exports (default column headers, English).

Ids are those of the HubSpot webhook adapter for the same fact. Not carried by these
exports (docs/backfill.md): amount history, replies, reopens, activities, subscriptions.
"""

from __future__ import annotations

from streams.backfill.spec import EventRule, FieldSpec, Preset, Table
from streams.http.ingest.hubspot import UNASSIGNED, hubspot_event_id

EVENT_IDS = hubspot_event_id

_team = FieldSpec(column="HubSpot Team", kind="label", value=UNASSIGNED)
_priorities = {"LOW": "low", "MEDIUM": "normal", "HIGH": "high", "URGENT": "urgent"}

DEALS = Table(
    object="deal",
    id_column="Record ID",
    entity_key="opportunity_id",
    events=[
        EventRule(
            type="opportunity.created",
            at="Create Date",
            required=True,
            milestone="created",
            fields={
                "amount": FieldSpec(column="Amount", kind="number", value=0.0),
                "stage": FieldSpec(value="new"),
                "rep": FieldSpec(column="Deal owner", kind="label", value="unknown"),
                "team": _team,
                "channel": FieldSpec(column="Original Source Type", kind="label", optional=True),
            },
        ),
        EventRule(
            type="opportunity.stage_changed",
            stage_columns="Date entered ",
            skip=["won", "lost"],
            changed="dealstage",
        ),
        EventRule(type="opportunity.won", at="Close Date", when={"Deal Stage": "won"}),
        EventRule(type="opportunity.lost", at="Close Date", when={"Deal Stage": "lost"}),
    ],
)

CONTACTS = Table(
    object="contact",
    id_column="Record ID",
    entity_key="lead_id",
    events=[
        EventRule(
            type="lead.created",
            at="Create Date",
            required=True,
            milestone="created",
            fields={"channel": FieldSpec(column="Original Source", kind="label", value="unknown")},
        ),
        EventRule(
            type="lead.contacted",
            at="First outreach date",
            changed="hs_lead_status",
            fields={
                "rep": FieldSpec(column="Contact owner", kind="label", value="unknown"),
                "team": _team,
            },
        ),
        EventRule(
            type="lead.qualified",
            at="Became a Sales Qualified Lead Date",
            milestone="qualified",
        ),
        EventRule(type="lead.converted", at="Became a Customer Date", milestone="converted"),
    ],
)

TICKETS = Table(
    object="ticket",
    id_column="Ticket ID",
    entity_key="ticket_id",
    events=[
        EventRule(
            type="ticket.opened",
            at="Create date",
            required=True,
            milestone="created",
            fields={
                "team": _team,
                "priority": FieldSpec(column="Priority", map=_priorities, value="normal"),
            },
        ),
        EventRule(
            type="ticket.resolved",
            at="Close date",
            when={"Ticket status": "closed"},
            changed="hs_pipeline_stage",
        ),
    ],
)

PRESET = Preset(
    source="hubspot",
    date_formats=["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y"],
    values={
        "won": ["closedwon", "Closed Won"],
        "lost": ["closedlost", "Closed Lost"],
        "closed": ["4", "Closed"],
    },
    tables={"deals": DEALS, "contacts": CONTACTS, "tickets": TICKETS},
)
