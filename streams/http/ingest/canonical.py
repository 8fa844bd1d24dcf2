"""`/ingest/canonical`: canonical events (EVENTS.md) as one JSON object, a JSON array or JSONL."""

from __future__ import annotations

from contextlib import suppress

import orjson

from streams.http.ingest.errors import BadPayload
from streams.http.ingest.payload import CanonicalEvent, as_list, as_object, parse_json


def adapt(body: bytes) -> list[CanonicalEvent]:
    """The events of a body; each is validated against EVENTS.md by the endpoint."""
    stripped = body.strip()
    if not stripped:
        raise BadPayload("body is empty: send a canonical event, a JSON array of them, or JSONL")
    if stripped.startswith(b"["):
        documents = as_list(parse_json(stripped), "$")
        if not documents:
            raise BadPayload("$: the array holds no events")
        return [as_object(document, f"$[{n}]") for n, document in enumerate(documents)]
    with suppress(orjson.JSONDecodeError):  # one object, perhaps pretty-printed
        return [as_object(orjson.loads(stripped), "$")]
    events = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise BadPayload(f"line {number}: invalid_json: {error}") from None
        events.append(as_object(document, f"line {number}"))
    return events
