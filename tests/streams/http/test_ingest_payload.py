"""Bodies of the wrong shape: the `BadPayload` (or, for one change of a batch, its refusal)
names the field by its path in the body."""

from __future__ import annotations

import pytest

from streams.config import IngestStages
from streams.http.ingest import hubspot
from streams.http.ingest.errors import BadPayload
from streams.http.ingest.sources import SOURCES

HEADER = (
    b'"ChangeEventHeader": {"entityName": "Opportunity", "changeType": "CREATE",'
    b' "transactionKey": "t", "sequenceNumber": 1, "commitTimestamp": 1, "recordIds": ["006A"]}'
)


@pytest.mark.parametrize(
    ("source", "body", "error"),
    [
        (
            "hubspot",
            b'[{"subscriptionType": "deal.creation", "occurredAt": 1}]',
            "$[0].objectId: required",
        ),
        (
            "hubspot",
            b'[{"subscriptionType": "deal.creation", "objectId": true, "occurredAt": 1}]',
            "$[0].objectId: expected `int | str`, got `bool`",
        ),
        (
            "hubspot",
            b'[{"subscriptionType": "deal.propertyChange", "objectId": 9, "occurredAt": 1,'
            b' "propertyName": "amount", "propertyValue": "lots"}]',
            "$[0].propertyValue: 'lots' is not a number",
        ),
        (
            "salesforce",
            b'[{"payload": {' + HEADER.replace(b'["006A"]', b"[]") + b"}}]",
            "$[0].payload.ChangeEventHeader.recordIds: expected `array` of length >= 1",
        ),
        (
            "salesforce",
            b"{" + HEADER + b', "IsWon": "yes"}',
            "$.IsWon: expected `bool | null`, got `str`",
        ),
        (
            "pipedrive",
            b'{"meta": {"action": "create", "entity": "deal", "timestamp": "2026-03-01T09:00:00"}}',
            "$.meta.timestamp: expected `datetime` with a timezone component",
        ),
        ("canonical", b'{"event_id": "a"}\n[1]', "line 2: expected `object`, got `array`"),
    ],
)
def test_the_error_names_the_field_by_its_path(source: str, body: bytes, error: str) -> None:
    assert _problem(source, body) == error


def _problem(source: str, body: bytes) -> str:
    """The error refusing the body, or the refusal of its one change."""
    try:
        [item] = SOURCES[source].adapt(body, IngestStages())
    except BadPayload as problem:
        return str(problem)
    assert item.refusal is not None, "the change was not refused"
    return item.refusal.detail


def test_ids_may_be_integers_and_cleared_fields_are_absent() -> None:
    body = (
        b'[{"subscriptionType": "contact.propertyChange", "objectId": 7, "occurredAt": 0,'
        b' "propertyName": "hs_lead_status", "propertyValue": "CONNECTED", "sourceId": ""}]'
    )
    [item] = hubspot.adapt(body, IngestStages())
    [contacted] = item.events
    assert (contacted["lead_id"], contacted["rep"]) == ("7", "unknown")
