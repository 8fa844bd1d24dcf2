"""Customers, renewals, survey responses and marketing spend as canonical CSV (a billing
system's or survey tool's export, renamed): columns named as the canonical fields (EVENTS.md).

`customers`: a row per customer, `subscribed_at` and, once churned, `churned_at`.
The others: a row per event, its time in `occurred_at`; an `event_id` column, when there is
one, gives each event its id (else one derived from the record id, and the time for renewals).
"""

from __future__ import annotations

from streams.backfill.spec import EventRule, FieldSpec, Preset, Table


def _table(kind: str, key: str, fields: dict[str, FieldSpec]) -> Table:
    """A file of one event type: a row per event, its record id in `key`."""
    rule = EventRule(type=kind, at="occurred_at", required=True, milestone="row", fields=fields)
    name = kind.rpartition(".")[2]
    return Table(
        object=name, id_column=key, entity_key=key, event_id_column="event_id", events=[rule]
    )


def _optional(column: str) -> FieldSpec:
    return FieldSpec(column=column, optional=True)


CUSTOMERS = Table(
    object="customer",
    id_column="customer_id",
    entity_key="customer_id",
    events=[
        EventRule(
            type="customer.subscribed",
            at="subscribed_at",
            required=True,
            milestone="subscribed",
            fields={
                "segment": FieldSpec(column="segment", kind="label"),
                "channel": FieldSpec(column="channel", kind="label"),
                "mrr": FieldSpec(column="mrr", kind="number"),
            },
        ),
        EventRule(
            type="customer.churned",
            at="churned_at",
            milestone="churned",
            fields={"reason": _optional("churn_reason")},
        ),
    ],
)

RENEWALS = Table(  # a customer renews many times: ids from the customer and the time
    object="customer",
    id_column="customer_id",
    entity_key="customer_id",
    event_id_column="event_id",
    events=[
        EventRule(
            type="customer.renewed",
            at="occurred_at",
            required=True,
            fields={"mrr": FieldSpec(column="mrr", kind="number", optional=True)},
        )
    ],
)

PRESET = Preset(
    source="csv",
    tables={
        "customers": CUSTOMERS,
        "renewals": RENEWALS,
        "csat": _table(
            "survey.csat",
            "response_id",
            {
                "score": FieldSpec(column="score", kind="integer"),
                "team": FieldSpec(column="team", kind="label"),
                "customer_id": _optional("customer_id"),
                "ticket_id": _optional("ticket_id"),
            },
        ),
        "nps": _table(
            "survey.nps",
            "response_id",
            {
                "score": FieldSpec(column="score", kind="integer"),
                "segment": FieldSpec(column="segment", kind="label"),
                "customer_id": _optional("customer_id"),
            },
        ),
        "spend": _table(
            "marketing.spend",
            "spend_id",
            {
                "channel": FieldSpec(column="channel", kind="label"),
                "amount": FieldSpec(column="amount", kind="number"),
                "campaign_id": _optional("campaign_id"),
            },
        ),
    },
)
