"""Pipedrive's deals, leads and activities CSV exports (default `Entity - Field` headers).

Ids are those of the Pipedrive webhook adapter for the same fact. Not carried by these
exports (docs/backfill.md): stage and amount history, teams, a lead's contact,
qualification and conversion, customers' subscriptions, tickets.
"""

from __future__ import annotations

from streams.backfill.spec import EventRule, FieldSpec, Preset, Table
from streams.http.ingest.pipedrive import UNASSIGNED, pipedrive_event_id

EVENT_IDS = pipedrive_event_id

DEALS = Table(
    object="deal",
    id_column="Deal - ID",
    entity_key="opportunity_id",
    events=[
        EventRule(
            type="opportunity.created",
            at="Deal - Deal created",
            required=True,
            milestone="created",
            fields={
                "amount": FieldSpec(column="Deal - Value", kind="number", value=0.0),
                "stage": FieldSpec(value="new"),
                "rep": FieldSpec(column="Deal - Owner", kind="label", value="unknown"),
                # a custom deal field named Team, when the account has one
                "team": FieldSpec(column="Deal - Team", kind="label", value=UNASSIGNED),
                "channel": FieldSpec(column="Deal - Source channel", kind="label", optional=True),
            },
        ),
        EventRule(
            type="opportunity.stage_changed",
            at="Deal - Last stage change",
            changed="changed",
            fields={"stage": FieldSpec(column="Deal - Stage", kind="label")},
        ),
        EventRule(
            type="opportunity.won",
            at="Deal - Won time",
            required=True,  # a won deal without its time is refused, not left open
            when={"Deal - Status": "won"},
        ),
        EventRule(
            type="opportunity.lost",
            at="Deal - Lost time",
            required=True,
            when={"Deal - Status": "lost"},
            fields={"reason": FieldSpec(column="Deal - Lost reason", kind="label", optional=True)},
        ),
    ],
)

LEADS = Table(
    object="lead",
    id_column="Lead - ID",
    entity_key="lead_id",
    events=[
        EventRule(
            type="lead.created",
            at="Lead - Lead created",
            required=True,
            milestone="created",
            fields={
                "channel": FieldSpec(column="Lead - Source channel", kind="label", value="unknown")
            },
        ),
    ],
)

ACTIVITIES = Table(
    object="activity",
    id_column="Activity - ID",
    entity_key="activity_id",
    events=[
        EventRule(
            type="activity.logged",
            at="Activity - Marked as done time",
            required=True,
            when={"Activity - Done": "done"},
            milestone="done",
            fields={
                "kind": FieldSpec(column="Activity - Type", kind="label", value="task"),
                "rep": FieldSpec(
                    column="Activity - Assigned to user", kind="label", value="unknown"
                ),
                "team": FieldSpec(column="Activity - Team", kind="label", value=UNASSIGNED),
                "opportunity_id": FieldSpec(column="Deal - ID", optional=True),
                "lead_id": FieldSpec(column="Lead - ID", optional=True),
            },
        ),
    ],
)

PRESET = Preset(
    source="pipedrive",
    date_formats=["%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y"],
    values={"won": ["Won"], "lost": ["Lost"], "done": ["Done"]},
    tables={"deals": DEALS, "leads": LEADS, "activities": ACTIVITIES},
)
