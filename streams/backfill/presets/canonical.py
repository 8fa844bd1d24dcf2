"""Survey responses and marketing spend as canonical CSV: one row per response or record,
columns named as the canonical fields (EVENTS.md), times in `occurred_at`; an `event_id`
column, when there is one, gives each event its id (else `csv-<kind>-<id>-row`)."""

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


PRESET = Preset(
    source="csv",
    tables={
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
