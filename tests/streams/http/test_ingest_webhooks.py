"""Issue 16's cases, one behaviour each: generic HubSpot events, closing stages per pipeline,
one id per transition, Pipedrive seconds and v1, Zendesk messaging, Salesforce CometD,
bitmaps and gaps, batches judged change by change, and the items metric."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.config import ClosingStages, IngestStages, Settings
from streams.http.ingest import hubspot, pipedrive, salesforce, zendesk
from streams.http.ingest.endpoint import IngestEndpoint
from streams.http.ingest.items import Item
from streams.http.ingest.payload import CanonicalEvent
from streams.http.ingest.tally import ItemTally
from streams.read.exposition import render
from streams.read.snapshot_reader import read_snapshot
from streams.read.store import MemoryStore
from streams.read.worker_view import WorkerView
from tests.ingest_http import RecordingProducer, served
from tests.ingest_signing import SECRET_ENV, signed_headers

DEFAULT = IngestStages()


def _events(items: list[Item]) -> list[CanonicalEvent]:
    return [event for item in items for event in item.events]


def _hubspot(*notes: dict[str, object], stages: IngestStages = DEFAULT) -> list[CanonicalEvent]:
    return _events(hubspot.adapt(orjson.dumps(list(notes)), stages))


def _stage(deal: int, stage: str, at: int, kind: str = "deal.propertyChange") -> dict[str, object]:
    note: dict[str, object] = {
        "subscriptionType": kind,
        "objectId": deal,
        "occurredAt": at,
        "propertyName": "dealstage",
        "propertyValue": stage,
    }
    if kind.startswith("object."):
        note["objectTypeId"] = "0-3"
    return note


def test_hubspot_generic_events_are_read_by_object_type_id() -> None:
    created = {"subscriptionType": "object.creation", "objectTypeId": "0-5", "objectId": 4,
               "occurredAt": 1000}  # fmt: skip
    [won] = _hubspot(_stage(7, "closedwon", 2000, "object.propertyChange"))
    [opened] = _hubspot(created)
    assert (won["type"], won["opportunity_id"]) == ("opportunity.won", "7")
    assert (opened["type"], opened["ticket_id"]) == ("ticket.opened", "4")


def test_hubspot_closing_stages_are_configured_per_pipeline() -> None:
    stages = IngestStages(
        hubspot_deals={"9": ClosingStages(won=["1001"], lost=["1002"])},
        hubspot_tickets={"7": ClosingStages(closed=["55"])},
    )
    won, lost = _hubspot(_stage(1, "1001", 1000), _stage(2, "1002", 2000), stages=stages)
    closed = {"subscriptionType": "ticket.propertyChange", "objectId": 3, "occurredAt": 3000,
              "propertyName": "hs_pipeline_stage", "propertyValue": "55"}  # fmt: skip
    assert [won["type"], lost["type"]] == ["opportunity.won", "opportunity.lost"]
    assert [e["type"] for e in _hubspot(closed, stages=stages)] == ["ticket.resolved"]
    assert _hubspot(_stage(1, "1003", 1000), stages=stages)[0]["type"] == (
        "opportunity.stage_changed"
    )


def test_a_deal_lost_reopened_and_won_is_one_loss_and_one_win_and_retries_repeat_ids() -> None:
    batch = [_stage(5, "closedlost", 1000), _stage(5, "appointmentscheduled", 2000),
             _stage(5, "closedwon", 3000)]  # fmt: skip
    lost, _, won = _hubspot(*batch)
    assert lost["event_id"] != won["event_id"]
    assert [e["event_id"] for e in _hubspot(*batch)] == [e["event_id"] for e in _hubspot(*batch)]


def _pipedrive(meta: dict[str, object], data: dict[str, object], previous: object = None) -> bytes:
    return orjson.dumps({"meta": meta, "data": data, "previous": previous})


def test_a_pipedrive_integer_timestamp_is_epoch_seconds() -> None:
    body = _pipedrive(
        {"action": "create", "entity": "deal", "timestamp": 1727447128},
        {"id": 1, "value": 2, "status": "open", "stage_id": 1, "owner_id": 5},
    )
    [created] = _events(pipedrive.adapt(body, DEFAULT))
    assert created["occurred_at"] == "2024-09-27T14:25:28Z"


def test_a_pipedrive_closing_stage_of_the_deals_pipeline_wins_it() -> None:
    stages = IngestStages(pipedrive_deals={"3": ClosingStages(won=["17"])})
    body = _pipedrive(
        {"action": "change", "entity": "deal", "timestamp": "2026-03-20T09:00:00Z"},
        {"id": 8, "value": 10, "status": "open", "stage_id": 17, "pipeline_id": 3},
        {"stage_id": 16},
    )
    assert [e["type"] for e in _events(pipedrive.adapt(body, stages))] == ["opportunity.won"]
    assert [e["type"] for e in _events(pipedrive.adapt(body, DEFAULT))] == [
        "opportunity.stage_changed"
    ]


def _message(actor: str) -> bytes:
    return orjson.dumps(
        {
            "type": "zen:event-type:messaging_ticket.message_added",
            "id": f"m-{actor}",
            "time": "2025-02-11T14:32:05Z",
            "detail": {"id": "141"},
            "event": {"actor": {"type": actor}, "message": {"id": "x", "body": "hi"}},
        }
    )


def test_zendesk_messaging_replies_count_for_end_users_and_agents_not_bots() -> None:
    authors = {
        actor: [e.get("author") for e in _events(zendesk.adapt(_message(actor)))]
        for actor in ("end_user", "agent", "system", "trigger")
    }
    assert authors == {"end_user": ["customer"], "agent": ["agent"], "system": [], "trigger": []}


HEADER = {"entityName": "Opportunity", "changeType": "UPDATE", "transactionKey": "t",
          "sequenceNumber": 1, "commitTimestamp": 1714153780000, "recordIds": ["006A"]}  # fmt: skip


def test_a_cometd_message_with_bitmap_changed_fields_is_read() -> None:
    payload = {"ChangeEventHeader": {**HEADER, "changedFields": ["0x0000C0"]},
               "StageName": "Closed Won", "IsWon": True, "Amount": None}  # fmt: skip
    body = orjson.dumps({"data": {"schema": "s", "payload": payload, "event": {"replayId": 1}},
                         "channel": "/data/OpportunityChangeEvent"})  # fmt: skip
    [won] = _events(salesforce.adapt(body))
    assert (won["type"], won["opportunity_id"]) == ("opportunity.won", "006A")


async def _post(source: str, body: bytes) -> tuple[int, Any, RecordingProducer, IngestEndpoint]:
    env = {key.removeprefix("CRMKPI_").lower(): value for key, value in SECRET_ENV.items()}
    settings = Settings(**env)
    producer = RecordingProducer(settings)
    endpoint = IngestEndpoint(settings, producer)
    async for server in served(endpoint):
        url = str(server.make_url(f"/ingest/{source}"))
        headers = signed_headers(source, url, body, time.time())
        async with (
            aiohttp.ClientSession() as client,
            client.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.json(), producer, endpoint
    raise AssertionError("no server")


async def test_a_batch_sends_its_good_changes_and_dead_letters_the_bad_one() -> None:
    good = _stage(7, "closedwon", 1000)
    bad = {"subscriptionType": "deal.creation", "occurredAt": 1000}
    status, answer, producer, endpoint = await _post("hubspot", orjson.dumps([good, bad]))
    assert status == 202
    assert answer == {"events": 1, "accepted": 1, "rejected": 1, "gaps": 0}
    assert [e["type"] for e in producer.events] == ["opportunity.won"]
    [letter] = producer.dead_letters
    assert orjson.loads(letter.value) == bad
    assert letter.reason == "bad_payload" and "$[1].objectId: required" in letter.detail
    assert endpoint.items.counts == {
        ("hubspot", "deal.propertyChange", "translated"): 1,
        ("hubspot", "unknown", "rejected"): 1,
    }


async def test_a_salesforce_gap_is_dead_lettered_as_an_upstream_gap_and_counted() -> None:
    gap = {"ChangeEventHeader": {**HEADER, "changeType": "GAP_UPDATE"}}
    status, answer, producer, endpoint = await _post("salesforce", orjson.dumps([gap]))
    assert status == 202 and answer["gaps"] == 1 and answer["events"] == 0
    [letter] = producer.dead_letters
    assert letter.reason == "upstream_gap" and "006A" in letter.detail
    assert endpoint.items.counts == {("salesforce", "Opportunity.GAP_UPDATE", "gap"): 1}
    [family] = endpoint.items.collect()
    assert family.name == "crmkpi_ingest_items"
    assert [s.labels for s in family.samples] == [
        {"source": "salesforce", "kind": "Opportunity.GAP_UPDATE", "result": "gap"}
    ]


async def test_a_pipedrive_v1_webhook_is_refused_naming_the_fix() -> None:
    meta = {"action": "added", "object": "deal", "id": 1}
    body = orjson.dumps({"v": 1, "meta": meta, "current": {"id": 1}, "event": "added.deal"})
    status, answer, producer, _ = await _post("pipedrive", body)
    assert status == 400 and "webhooks v1 are not supported" in answer["error"]
    assert producer.events == [] and producer.dead_letters == []


async def test_the_items_counts_are_exported_with_the_workers_health_on_metrics() -> None:
    tally = ItemTally()
    tally.count("hubspot", [Item("company.creation", b"{}"), Item("company.creation", b"{}")])
    snapshot, _ = await read_snapshot(MemoryStore(), None, 1.0)
    view = WorkerView(frozenset(), True, collectors=(tally,))
    text = render(snapshot, {}, view).decode()
    samples = [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "crmkpi_ingest_items_total"
    ]
    labels = {"source": "hubspot", "kind": "company.creation", "result": "ignored"}
    assert samples == [("crmkpi_ingest_items_total", labels, 2.0)]


def test_a_salesforce_overflow_without_record_ids_is_an_upstream_gap_too() -> None:
    header = {"entityName": "Opportunity", "changeType": "GAP_OVERFLOW", "commitTimestamp": 1}
    [item] = salesforce.adapt(orjson.dumps([{"ChangeEventHeader": header}]))
    assert item.result == "gap" and item.refusal is not None
    assert "GAP_OVERFLOW Opportunity all records" in item.refusal.detail


def test_closing_stages_come_from_the_config_file_and_keep_the_default_pipelines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "crmkpi.yaml"
    config.write_text('ingest_stages:\n  hubspot_deals:\n    "12345678": {won: ["987"]}\n')
    monkeypatch.setenv("CRMKPI_CONFIG", str(config))
    stages = Settings().ingest_stages
    custom, default = _hubspot(_stage(1, "987", 1000), _stage(2, "closedwon", 2000), stages=stages)
    assert [custom["type"], default["type"]] == ["opportunity.won", "opportunity.won"]
