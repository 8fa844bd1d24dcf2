"""The aiohttp handler of `POST /ingest/{source}`: size, authentication, translation, delivery.

Each change of the body is judged: translated and valid (its events go to the domain
topics), ignored (a kind crmkpi does not track), or refused. For a batched source a
refused change goes to the dead-letter topic with its original bytes and the others
go on; otherwise it refuses the whole body (400) and nothing is sent. 202 is answered
only after the broker confirmed every record, so an accepted webhook is never lost; a
broker that cannot take them gets 503, which makes the CRM retry (the ids are stable,
so the worker drops what a retry repeats).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import msgspec
from aiohttp import web

from kpis.events import Envelope, Rejection, check_not_future, decode_event, format_time
from streams.config import Settings
from streams.http.ingest.errors import BadPayload, IngestError, TooLarge, Unauthorized
from streams.http.ingest.items import GAP, REJECTED, Item
from streams.http.ingest.signatures import SignedRequest
from streams.http.ingest.sources import SOURCES, Source
from streams.http.ingest.tally import ItemTally
from streams.http.server import json_response
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.producer import CrmProducer, ProducerError

log = logging.getLogger(__name__)


@dataclass
class _Judged:
    """The changes of one request: the events to send and the dead letters to write."""

    events: list[tuple[Envelope, bytes]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def answer(self) -> dict[str, int]:
        results = [item.result for item in self.items]
        accepted = len(results) - results.count(REJECTED) - results.count(GAP)
        return {
            "events": len(self.events),
            "accepted": accepted,
            "rejected": results.count(REJECTED),
            "gaps": results.count(GAP),
        }


class IngestEndpoint:
    """`handle` is the route handler; it shares the worker's producer."""

    def __init__(self, settings: Settings, producer: CrmProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.items = ItemTally()

    async def handle(self, request: web.Request) -> web.Response:
        source = SOURCES.get(request.match_info["source"])
        if source is None:
            known = ", ".join(SOURCES)
            return json_response({"error": f"unknown source: expected one of {known}"}, 404)
        try:
            judged = await self._accept(source, request)
        except IngestError as error:
            return json_response({"error": str(error)}, error.status)
        try:
            await self.producer.deliver(judged.events, judged.dead_letters)
        except ProducerError as error:
            log.warning("ingest from %s refused, broker unavailable: %s", source.name, error)
            response = json_response({"error": f"broker unavailable, retry later: {error}"}, 503)
            response.headers["Retry-After"] = "30"
            return response
        self.items.count(source.name, judged.items)
        return json_response(judged.answer(), 202)

    async def _accept(self, source: Source, request: web.Request) -> _Judged:
        """The judged changes of a request, or the `IngestError` that refuses it."""
        body = await self._read_body(request)
        secret = source.secret(self.settings)
        if secret is None:
            raise Unauthorized(
                f"ingest from {source.name} is disabled: set {source.secret_variable}"
            )
        signed = SignedRequest(
            request.method, self._url(request), request.headers, body, time.time()
        )
        source.verify(signed, secret)
        now_us = int(signed.now * 1_000_000)
        try:
            items = source.adapt(body, self.settings.ingest_stages)
            numbers = _first_event_numbers(items)
            valid = [_validated(item, n, now_us) for item, n in zip(items, numbers, strict=True)]
        except RecursionError:  # msgspec's nesting limit, decoding or encoding
            raise BadPayload("body is nested too deeply") from None
        return _judged(source, valid, format_time(now_us))

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.ingest_max_body_bytes
        too_large = TooLarge(
            f"body is over the limit of {limit} bytes (CRMKPI_INGEST_MAX_BODY_BYTES)"
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        body = bytearray()
        async for chunk in request.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)

    def _url(self, request: web.Request) -> str:
        """The URL as the CRM called it: behind a proxy, CRMKPI_INGEST_PUBLIC_URL's base."""
        base = self.settings.ingest_public_url
        if base:
            return base.rstrip("/") + request.raw_path
        return f"{request.scheme}://{request.host}{request.raw_path}"


@dataclass(frozen=True)
class _Valid:
    """An item with its validated events; `problem` names the first invalid one."""

    item: Item
    events: list[tuple[Envelope, bytes]]
    problem: str = ""


def _first_event_numbers(items: list[Item]) -> list[int]:
    """The body-wide number of each item's first event, for error messages."""
    numbers, number = [], 1
    for item in items:
        numbers.append(number)
        number += len(item.events)
    return numbers


def _validated(item: Item, first_number: int, now_us: int) -> _Valid:
    """An item whose events are all valid (EVENTS.md), or the item refused by the first
    that is not."""
    events: list[tuple[Envelope, bytes]] = []
    for number, document in enumerate(item.events, start=first_number):
        raw = msgspec.json.encode(document)  # also integers over 64 bits, which orjson refuses
        try:
            event = decode_event(raw)
            check_not_future(event, now_us)
        except Rejection as rejection:
            event_id = document.get("event_id")
            refused = item.refused(rejection.reason, f"event {event_id}: {rejection.detail}")
            problem = f"event {number} ({event_id}): {rejection.reason}: {rejection.detail}"
            return _Valid(refused, [], problem)
        events.append((event, raw))
    return _Valid(item, events)


def _judged(source: Source, valid: list[_Valid], now: str) -> _Judged:
    """The events to send and the dead letters to write; for a source that is not
    batched, the first refused change refuses the body."""
    judged = _Judged(items=[v.item for v in valid])
    for v in valid:
        refusal = v.item.refusal
        if refusal is None:
            judged.events.extend(v.events)
        elif source.batched:
            origin = f"ingest/{source.name}"
            judged.dead_letters.append(
                DeadLetter(v.item.raw, refusal.reason, refusal.detail, now, origin)
            )
        else:
            raise BadPayload(v.problem or f"{refusal.reason}: {refusal.detail}")
    return judged
