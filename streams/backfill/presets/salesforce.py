"""Salesforce's Data Loader (or report) CSV exports of Lead, Opportunity, Case, Task and
Event, with API field names as headers, plus LeadHistory and OpportunityHistory.

Ids are those of the Salesforce webhook adapter (Change Data Capture) for the same fact.
Not carried by these exports (docs/backfill.md): close times (CloseDate is a date), amount
history, case replies and reopens, activities' lead and opportunity, subscriptions.
"""

from __future__ import annotations

from streams.backfill.spec import EventRule, FieldSpec, Preset, Table
from streams.http.ingest.salesforce import salesforce_event_id
from streams.http.ingest.salesforce_records import PRIORITIES, UNASSIGNED

EVENT_IDS = salesforce_event_id

_team = FieldSpec(column="Team__c", kind="label", value=UNASSIGNED)  # custom, as the webhook's
_owner = FieldSpec(column="OwnerId", value="unknown")  # the user id, as the webhook gives it


def _status_became(value_set: str) -> dict[str, str]:
    """A LeadHistory row of the Status field whose new value is in `value_set`."""
    return {"Field": "status_field", "NewValue": value_set}


LEADS = Table(
    object="lead",
    id_column="Id",
    entity_key="lead_id",
    events=[
        EventRule(
            type="lead.created",
            at="CreatedDate",
            required=True,
            milestone="created",
            fields={"channel": FieldSpec(column="LeadSource", kind="label", value="unknown")},
        ),
        EventRule(
            type="lead.converted",
            at="ConvertedDate",
            milestone="converted",
            fields={"customer_id": FieldSpec(column="ConvertedAccountId", optional=True)},
        ),
    ],
)

LEAD_HISTORY = Table(
    object="lead",
    id_column="LeadId",
    entity_key="lead_id",
    events=[
        EventRule(
            type="lead.contacted",
            at="CreatedDate",
            when=_status_became("contacted"),
            changed="contacted",
            fields={"rep": FieldSpec(column="CreatedById", value="unknown"), "team": _team},
        ),
        EventRule(
            type="lead.qualified",
            at="CreatedDate",
            when=_status_became("qualified"),
            milestone="qualified",
        ),
    ],
)

OPPORTUNITIES = Table(
    object="opportunity",
    id_column="Id",
    entity_key="opportunity_id",
    events=[
        EventRule(
            type="opportunity.created",
            at="CreatedDate",
            required=True,
            milestone="created",
            fields={
                "amount": FieldSpec(column="Amount", kind="number", value=0.0),
                "stage": FieldSpec(value="new"),
                "rep": _owner,
                "team": _team,
                "channel": FieldSpec(column="LeadSource", kind="label", optional=True),
            },
        ),
        EventRule(type="opportunity.won", at="CloseDate", when={"IsWon": "true"}, changed="won"),
        EventRule(
            type="opportunity.lost",
            at="CloseDate",
            when={"IsClosed": "true", "IsWon": "false"},
            changed="lost",
            fields={"reason": FieldSpec(column="Loss_Reason__c", kind="label", optional=True)},
        ),
    ],
)

OPPORTUNITY_HISTORY = Table(
    object="opportunity",
    id_column="OpportunityId",
    entity_key="opportunity_id",
    events=[
        EventRule(
            type="opportunity.stage_changed",
            at="CreatedDate",
            required=True,
            changed="stage",
            skip=["won", "lost"],
            fields={"stage": FieldSpec(column="StageName", kind="label")},
        ),
    ],
)

CASES = Table(
    object="case",
    id_column="Id",
    entity_key="ticket_id",
    events=[
        EventRule(
            type="ticket.opened",
            at="CreatedDate",
            required=True,
            milestone="opened",
            fields={
                "team": _team,
                "priority": FieldSpec(column="Priority", map=PRIORITIES, value="normal"),
                "customer_id": FieldSpec(column="AccountId", optional=True),
            },
        ),
        EventRule(
            type="ticket.resolved", at="ClosedDate", when={"IsClosed": "true"}, changed="resolved"
        ),
    ],
)


def _activities(object_name: str, kind: FieldSpec) -> Table:
    """Tasks or Events: one `activity.logged` per record, at its creation."""
    return Table(
        object=object_name,
        id_column="Id",
        entity_key="activity_id",
        events=[
            EventRule(
                type="activity.logged",
                at="CreatedDate",
                required=True,
                milestone="logged",
                fields={"kind": kind, "rep": _owner, "team": _team},
            )
        ],
    )


PRESET = Preset(
    source="salesforce",
    date_formats=["%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y"],
    values={
        "true": ["true", "1"],
        "false": ["false", "0"],
        "won": ["Closed Won"],
        "lost": ["Closed Lost"],
        "status_field": ["Status"],
        "contacted": ["Working - Contacted"],
        "qualified": ["Qualified"],
    },
    tables={
        "leads": LEADS,
        "lead_history": LEAD_HISTORY,
        "opportunities": OPPORTUNITIES,
        "opportunity_history": OPPORTUNITY_HISTORY,
        "cases": CASES,
        "tasks": _activities("task", FieldSpec(column="TaskSubtype", kind="label", value="task")),
        "events": _activities("event", FieldSpec(value="meeting")),
    },
)
