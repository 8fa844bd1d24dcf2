"""The aiohttp handler of `POST /ingest/{source}`: size, authentication, translation, delivery.

Nothing is sent unless the whole body is valid, and 202 is answered only after the
broker confirmed every event, so an accepted webhook is never lost; a broker that
cannot take them gets 503, which makes the CRM retry (the ids are stable, so the
worker drops what a retry repeats).
"""

from __future__ import annotations

import logging
import time

import msgspec
from aiohttp import web

from kpis.events import Envelope, Rejection, check_not_future, decode_event
from streams.config import Settings
from streams.http.ingest.errors import BadPayload, IngestError, TooLarge, Unauthorized
from streams.http.ingest.payload import CanonicalEvent
from streams.http.ingest.signatures import SignedRequest
from streams.http.ingest.sources import SOURCES, Source
from streams.http.server import json_response
from streams.kafka.producer import CrmProducer, ProducerError

log = logging.getLogger(__name__)


class IngestEndpoint:
    """`handle` is the route handler; it shares the worker's producer."""

    def __init__(self, settings: Settings, producer: CrmProducer) -> None:
        self.settings = settings
        self.producer = producer

    async def handle(self, request: web.Request) -> web.Response:
        source = SOURCES.get(request.match_info["source"])
        if source is None:
            known = ", ".join(SOURCES)
            return json_response({"error": f"unknown source: expected one of {known}"}, 404)
        try:
            events = await self._accept(source, request)
        except IngestError as error:
            return json_response({"error": str(error)}, error.status)
        try:
            await self.producer.deliver(events)
        except ProducerError as error:
            log.warning("ingest from %s refused, broker unavailable: %s", source.name, error)
            response = json_response({"error": f"broker unavailable, retry later: {error}"}, 503)
            response.headers["Retry-After"] = "30"
            return response
        return json_response({"events": len(events)}, 202)

    async def _accept(self, source: Source, request: web.Request) -> list[tuple[Envelope, bytes]]:
        """The validated events of a request, or the `IngestError` that refuses it."""
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
        return _validated(source.adapt(body), int(signed.now * 1_000_000))

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


def _validated(documents: list[CanonicalEvent], now_us: int) -> list[tuple[Envelope, bytes]]:
    """Every translated event checked against EVENTS.md; the first failure refuses the body."""
    events: list[tuple[Envelope, bytes]] = []
    for number, document in enumerate(documents, start=1):
        raw = msgspec.json.encode(document)  # also integers over 64 bits, which orjson refuses
        try:
            event = decode_event(raw)
            check_not_future(event, now_us)
        except Rejection as rejection:
            event_id = document.get("event_id")
            raise BadPayload(
                f"event {number} ({event_id}): {rejection.reason}: {rejection.detail}"
            ) from None
        events.append((event, raw))
    return events
