"""The aiohttp handler of `POST /ingest/{source}`: size, authentication, translation, delivery.

Each change of the body is judged (`judging`); 202 is answered only after the broker
confirmed every record, so an accepted webhook is never lost; a broker that
cannot take them gets 503, which makes the CRM retry (the ids are stable, so the
worker drops what a retry repeats).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from aiohttp import web

from streams.config import Settings
from streams.http.ingest import signatures
from streams.http.ingest.errors import (
    BadPayload,
    Busy,
    Disabled,
    IngestError,
    Mismatch,
    SlowBody,
    TooLarge,
)
from streams.http.ingest.judging import Judged, judge
from streams.http.ingest.signatures import SignedRequest
from streams.http.ingest.sources import SOURCES, Source
from streams.http.ingest.tally import ItemTally
from streams.http.outcomes import count
from streams.http.server import json_response
from streams.kafka.producer import CrmProducer, ProducerError

log = logging.getLogger(__name__)


HEADER_ONLY = frozenset({signatures.bearer, signatures.basic_auth})  # verifiers reading no body
RETRY_AFTER_SECONDS = "30"


class IngestEndpoint:
    """`handle` is the route handler; it shares the worker's producer.

    Credentials that headers alone carry (and the presence and age of a signature's
    headers) are checked before a byte of the body is read, and only
    `CRMKPI_INGEST_MAX_CONCURRENT_BODIES` bodies are read at once, so unauthenticated
    or piled-up requests cannot make the server buffer their bodies.
    """

    def __init__(self, settings: Settings, producer: CrmProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.bodies_in_flight = 0
        self.items = ItemTally()

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["source"]
        source = SOURCES.get(name)
        if source is None:
            count(name, "unknown_source")
            known = ", ".join(SOURCES)
            return json_response({"error": f"unknown source: expected one of {known}"}, 404)
        try:
            judged = await self._accept(source, request)
        except SlowBody as error:
            count(source.name, error.outcome)
            return await _closing(request, json_response({"error": str(error)}, error.status))
        except IngestError as error:
            count(source.name, error.outcome)
            return _refusal(str(error), error.status)
        try:
            await self.producer.deliver(judged.events, judged.dead_letters)
        except ProducerError as error:
            log.warning("ingest from %s refused, broker unavailable: %s", source.name, error)
            count(source.name, "broker_unavailable")
            return _refusal("broker unavailable, retry later", 503)
        count(source.name, "accepted")
        self.items.count(source.name, judged.items)
        return json_response(judged.answer(), 202)

    async def _accept(self, source: Source, request: web.Request) -> Judged:
        """The judged changes of a request, or the `IngestError` that refuses it."""
        secret = source.secret(self.settings)
        if secret is None:
            log.warning("ingest from %s refused: set %s", source.name, source.secret_variable)
            raise Disabled(f"ingest from {source.name} is disabled")
        headers_only = SignedRequest(
            request.method, self._url(request), request.headers, b"", time.time()
        )
        _check_headers(source, headers_only, secret)
        body = await self._read_body(request)
        signed = replace(headers_only, body=body)
        source.verify(signed, secret)
        now_us = int(signed.now * 1_000_000)
        try:
            items = source.adapt(body, self.settings.ingest_stages)
        except RecursionError:  # msgspec's nesting limit, decoding
            raise BadPayload("body is nested too deeply") from None
        return judge(source, items, now_us)

    async def _read_body(self, request: web.Request) -> bytes:
        limit = self.settings.ingest_max_body_bytes
        too_large = TooLarge(f"body is over the limit of {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        if self.bodies_in_flight >= self.settings.ingest_max_concurrent_bodies:
            raise Busy("too many webhooks at once, retry later")
        self.bodies_in_flight += 1
        body = bytearray()
        try:
            async with asyncio.timeout(self.settings.http_body_timeout):
                async for chunk in request.content.iter_any():
                    body += chunk
                    if len(body) > limit:
                        raise too_large
        except TimeoutError:
            raise SlowBody("body not received in time") from None
        finally:
            self.bodies_in_flight -= 1
        return bytes(body)

    def _url(self, request: web.Request) -> str:
        """The URL as the CRM called it: behind a proxy, CRMKPI_INGEST_PUBLIC_URL's base."""
        base = self.settings.ingest_public_url
        if base:
            return base.rstrip("/") + request.raw_path
        return f"{request.scheme}://{request.host}{request.raw_path}"


def _check_headers(source: Source, headers_only: SignedRequest, secret: str) -> None:
    """Refuse what the headers alone show wrong: missing or stale signature headers, and
    wrong credentials of the sources whose credentials are headers only (no body signed)."""
    try:
        source.verify(headers_only, secret)
    except Mismatch:
        if source.verify in HEADER_ONLY:
            raise
        # Signed bodies: only the body can tell whether the signature matches.


def _refusal(message: str, status: int) -> web.Response:
    response = json_response({"error": message}, status)
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


async def _closing(request: web.Request, response: web.Response) -> web.Response:
    """Send `response`, then close the connection: a too slow client gets no more time."""
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response
