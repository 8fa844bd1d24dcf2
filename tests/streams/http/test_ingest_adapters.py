"""Adapters alone (pure): vendor fixtures -> the hand-written canonical events; bad bodies."""

from __future__ import annotations

import orjson
import pytest

from streams.config import IngestStages
from streams.http.ingest import canonical, hubspot, zendesk
from streams.http.ingest.errors import BadPayload
from streams.http.ingest.items import Item
from streams.http.ingest.payload import CanonicalEvent, stable_id
from streams.http.ingest.sources import SOURCES, Adapter
from tests.ingest_fixtures import bodies, expected_events

STAGES = IngestStages()


def _events(items: list[Item]) -> list[CanonicalEvent]:
    return [event for item in items for event in item.events]


@pytest.mark.parametrize("source", list(SOURCES))
def test_each_fixture_translates_to_the_expected_canonical_events(source: str) -> None:
    adapt = SOURCES[source].adapt
    produced = [event for _, body in bodies(source) for event in _events(adapt(body, STAGES))]
    assert produced == expected_events(source)


def test_hubspot_sorts_a_batch_by_event_time_with_creations_first() -> None:
    batch = [
        {"subscriptionType": "deal.propertyChange", "objectId": 9, "occurredAt": 2000,
         "propertyName": "dealstage", "propertyValue": "closedwon"},
        {"subscriptionType": "deal.propertyChange", "objectId": 9, "occurredAt": 1000,
         "propertyName": "dealstage", "propertyValue": "contractsent"},
        {"subscriptionType": "deal.creation", "objectId": 9, "occurredAt": 1000},
    ]  # fmt: skip
    events = _events(hubspot.adapt(orjson.dumps(batch), STAGES))
    assert [e["type"] for e in events] == [
        "opportunity.created",
        "opportunity.stage_changed",
        "opportunity.won",
    ]


@pytest.mark.parametrize(
    ("source", "body", "named"),
    [
        ("hubspot", b'{"eventId": 1}', "$: expected `array`"),
        ("hubspot", b"[]", "no HubSpot events"),
        ("hubspot", b"[1]", "$[0]: expected a HubSpot event object"),
        ("salesforce", b'{"Name": "x"}', "$.ChangeEventHeader"),
        ("salesforce", b'{"ChangeEventHeader": {"entityName": "Lead"}}', "changeType"),
        ("pipedrive", b'{"data": {}}', "$.meta"),
        ("pipedrive", b'{"meta": {"action": "create", "entity": "deal"}}', "timestamp"),
        ("zendesk", b'{"type": "zen:event-type:ticket.created", "id": "x"}', "$.time"),
        ("zendesk", b"[1, 2]", "$: expected `object`"),
        ("canonical", b"", "body is empty"),
        ("canonical", b'{"event_id": "a"}\n{oops', "line 2: invalid_json"),
        ("canonical", b"[1]", "$[0]: expected `object`"),
    ],
)
def test_malformed_bodies_raise_bad_payload_naming_the_problem(
    source: str, body: bytes, named: str
) -> None:
    adapt: Adapter = SOURCES[source].adapt
    with pytest.raises(BadPayload) as raised:
        adapt(body, STAGES)
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'[{"subscriptionType": "deal.creation", "occurredAt": 1}]', "$[0].objectId: required"),
        (b'[{"subscriptionType": {}, "objectId": 1}]', "$[0].subscriptionType"),
    ],
)
def test_a_malformed_hubspot_event_is_refused_alone_naming_the_problem(
    body: bytes, named: str
) -> None:
    [item] = hubspot.adapt(body, STAGES)
    assert item.refusal is not None and named in item.refusal.detail
    assert item.events == []


def test_not_json_is_named() -> None:
    with pytest.raises(BadPayload, match="body is not JSON"):
        zendesk.adapt(b"{not json")


def test_long_ids_are_shortened_to_a_stable_digest_within_128_characters() -> None:
    first, second = stable_id("hubspot", "x" * 200), stable_id("hubspot", "x" * 200)
    assert first == second and len(first) <= 128 and first.startswith("hubspot-")
    assert stable_id("hubspot", "x" * 200) != stable_id("hubspot", "y" * 200)


def test_canonical_takes_one_pretty_printed_object_an_array_or_jsonl() -> None:
    event = {"event_id": "e1", "type": "lead.qualified", "lead_id": "L1"}
    pretty = orjson.dumps(event, option=orjson.OPT_INDENT_2)
    jsonl = orjson.dumps(event) + b"\n\n" + orjson.dumps({**event, "event_id": "e2"}) + b"\n"
    assert _events(canonical.adapt(pretty)) == [event]
    assert _events(canonical.adapt(b"[" + pretty + b"]")) == [event]
    assert [e["event_id"] for e in _events(canonical.adapt(jsonl))] == ["e1", "e2"]
