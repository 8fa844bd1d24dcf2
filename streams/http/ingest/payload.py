"""Reading CRM JSON payloads into msgspec Structs, and the id, time and amount helpers.

msgspec checks a body against an adapter's Structs and says where it is wrong; `decode`
and `convert` turn that into a `BadPayload` naming the field (`$[2].objectId: required`),
so an adapter never crashes on a body of the wrong shape.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

from kpis.events import format_time, to_micros
from streams.http.ingest.errors import BadPayload

CanonicalEvent = dict[str, object]
JsonObject = dict[str, object]
MAX_EVENT_ID = 128  # EVENTS.md: event_id is 1..128 characters

Id = Annotated[str, Meta(min_length=1)] | int
"""A required CRM id or name: a non-empty string, or an integer (CRMs send ids both ways)."""
Text = str | int | None
"""An optional id or name; null and "" (a cleared field) are absent: read it with `text`."""
RawAmount = float | str | None
"""An amount as CRMs send it: a number or a numeric string (HubSpot): read it with `amount`."""
EpochMillis = Annotated[int, Meta(ge=-62_135_596_800_000, le=253_402_300_799_999)]
"""Milliseconds since the epoch, within the years 1 to 9999 a canonical time can name."""
EpochSeconds = Annotated[int, Meta(ge=-62_135_596_800, le=253_402_300_799)]
"""Seconds since the epoch (Pipedrive's 10-digit `meta.timestamp`), years 1 to 9999."""
ZonedTime = Annotated[datetime, Meta(tz=True)]
"""An RFC 3339 time with an offset (or `Z`)."""

T = TypeVar("T")
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_MISSING = re.compile(r"Object missing required field `(?P<field>.*)`")


def decode(body: bytes, kind: type[T], where: str = "$") -> T:
    """The body as `kind` (a Struct, a list of them, ...), or `BadPayload`."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as error:
        raise _bad_payload(error, where) from None
    except msgspec.DecodeError as error:
        raise BadPayload(f"body is not JSON: {error}") from None


def convert(document: object, kind: type[T], where: str) -> T:
    """A decoded JSON value (found at `where`) as `kind`, or `BadPayload`."""
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as error:
        raise _bad_payload(error, where) from None


def _bad_payload(error: msgspec.ValidationError, where: str) -> BadPayload:
    """msgspec's "Object missing required field `id` - at `$[0]`" as "$[0].id: required"."""
    problem, _, path = str(error).partition(" - at `$")
    place = where + path.removesuffix("`")
    missing = _MISSING.fullmatch(problem)
    if missing:
        return BadPayload(f"{place}.{missing['field']}: required")
    return BadPayload(f"{place}: {problem[:1].lower()}{problem[1:]}")


def text(value: Text) -> str | None:
    """An optional id or name as a string; None when absent, null or ""."""
    return None if value is None or value == "" else str(value)


def amount(value: RawAmount, where: str) -> float | None:
    """An amount as a finite number; None when absent, null or ""."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadPayload(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadPayload(f"{where}: expected a finite number, got {value!r}")
    return number


def millis_time(millis: int) -> str:
    """Epoch milliseconds as the RFC 3339 `occurred_at` of a canonical event."""
    return format_time(millis * 1000)


def seconds_time(seconds: int) -> str:
    """Epoch seconds as the RFC 3339 `occurred_at` of a canonical event."""
    return format_time(seconds * 1_000_000)


def zoned_time(moment: datetime) -> str:
    """A time with an offset as the RFC 3339 `occurred_at` of a canonical event (UTC, `Z`)."""
    return format_time(to_micros(moment))


def label(value: Text) -> str | None:
    """A CRM picklist value as a dimension value: `Closed Won` -> `closed_won`."""
    name = text(value)
    if name is None:
        return None
    return _NOT_LABEL.sub("_", name.lower()).strip("_") or None


def canonical_event(
    source: str, event_id: str, kind: str, occurred_at: str, /, **fields: object
) -> CanonicalEvent:
    """A canonical event from `source`; fields that are None are left out (optional ones)."""
    present = {name: value for name, value in fields.items() if value is not None}
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": occurred_at,
        "source": source,
        **present,
    }


def stable_id(source: str, *parts: object) -> str:
    """A canonical `event_id` derived from the CRM's own ids: a CRM retry gets the same one.

    Ids over the canonical limit are shortened to a SHA-256 digest of the same parts.
    """
    event_id = "-".join([source, *(str(part) for part in parts)])
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return f"{source}-{hashlib.sha256(event_id.encode()).hexdigest()}"


EventIds = Callable[[str, str, str, int, str | None, str | None], str]
"""(object, record id, event type, time in epoch ms, milestone, changed) -> event_id."""


def generic_ids(source: str) -> EventIds:
    """The id rule of a CRM's facts: a milestone (created, converted, ...) is one per
    record; any other change one per record, step (`changed`, else the type's verb) and
    time. Webhook adapters and backfill presets of the same CRM share it."""

    def event_id(
        obj: str, record: str, kind: str, ms: int, milestone: str | None, changed: str | None
    ) -> str:
        if milestone is not None:
            return stable_id(source, obj, record, milestone)
        return stable_id(source, obj, record, changed or kind.rpartition(".")[2], ms)

    return event_id
