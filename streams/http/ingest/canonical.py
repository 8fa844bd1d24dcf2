"""`/ingest/canonical`: canonical events (EVENTS.md) as one JSON object, a JSON array or JSONL."""

from __future__ import annotations

import msgspec

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.items import Item
from streams.http.ingest.payload import CanonicalEvent, convert, decode


def adapt(body: bytes) -> list[Item]:
    """One item per event of a body; each is validated against EVENTS.md by the endpoint."""
    stripped = body.strip()
    if not stripped:
        raise BadPayload("body is empty: send a canonical event, a JSON array of them, or JSONL")
    if stripped.startswith(b"["):
        events = decode(stripped, list[CanonicalEvent])
        if not events:
            raise BadPayload("$: the array holds no events")
        return [_item(event) for event in events]
    try:  # one object, perhaps pretty-printed
        document = msgspec.json.decode(stripped)
    except msgspec.DecodeError:
        return [_item(event) for event in _lines(stripped)]
    return [_item(convert(document, CanonicalEvent, "$"))]


def _item(event: CanonicalEvent) -> Item:
    return Item("event", msgspec.json.encode(event), [event])


def _lines(jsonl: bytes) -> list[CanonicalEvent]:
    events = []
    for number, line in enumerate(jsonl.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = msgspec.json.decode(line)
        except msgspec.DecodeError as error:
            raise BadPayload(f"line {number}: invalid_json: {error}") from None
        events.append(convert(document, CanonicalEvent, f"line {number}"))
    return events
