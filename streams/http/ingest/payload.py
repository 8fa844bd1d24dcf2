"""Reading CRM JSON payloads: typed field access whose errors name the field, and id/time helpers.

Every accessor raises `BadPayload` naming where the problem is (`$[2].objectId`), so an
adapter never crashes on a body of the wrong shape.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime

import orjson

from kpis.events import format_time
from streams.http.ingest.errors import BadPayload

JsonObject = dict[str, object]
CanonicalEvent = dict[str, object]
MAX_EVENT_ID = 128  # EVENTS.md: event_id is 1..128 characters
_NOT_LABEL = re.compile(r"[^a-z0-9]+")


def parse_json(body: bytes) -> object:
    """The JSON document of a body, or `BadPayload`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadPayload(f"body is not JSON: {error}") from None


def as_object(value: object, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise BadPayload(f"{where}: expected a JSON object, got {_kind(value)}")
    return value


def as_list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise BadPayload(f"{where}: expected a JSON array, got {_kind(value)}")
    return value


def optional_object(document: JsonObject, key: str, where: str) -> JsonObject:
    """`document[key]` as an object; an absent or null field is an empty one."""
    value = document.get(key)
    return {} if value is None else as_object(value, f"{where}.{key}")


def text(document: JsonObject, key: str, where: str) -> str:
    """A required identifier or name: a non-empty string, or an integer written as one."""
    value = optional_text(document, key, where)
    if value is None:
        raise BadPayload(f"{where}.{key}: required")
    return value


def optional_text(document: JsonObject, key: str, where: str) -> str | None:
    """An optional identifier or name; absent, null and "" are None."""
    value = document.get(key)
    if value is None or value == "":
        return None
    return identifier(value, f"{where}.{key}")


def identifier(value: object, where: str) -> str:
    """A non-empty string, or an integer written as one (CRMs send ids both ways)."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise BadPayload(f"{where}: expected a non-empty string, got {_kind(value)}")
    return str(value)


def flag(document: JsonObject, key: str, where: str) -> bool | None:
    value = document.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise BadPayload(f"{where}.{key}: expected true or false, got {_kind(value)}")


def integer(document: JsonObject, key: str, where: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadPayload(f"{where}.{key}: expected an integer, got {_kind(value)}")
    return value


def money(document: JsonObject, key: str, where: str) -> float | None:
    """An amount: a JSON number or a numeric string (HubSpot sends strings); None when absent."""
    value = document.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadPayload(f"{where}.{key}: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadPayload(f"{where}.{key}: expected a finite number, got {_kind(value)}")
    return float(value)


def millis_time(document: JsonObject, key: str, where: str) -> str:
    """An epoch-milliseconds field as the RFC 3339 `occurred_at` of a canonical event."""
    millis = integer(document, key, where)
    try:
        return format_time(millis * 1000)
    except OverflowError:
        raise BadPayload(f"{where}.{key}: {millis} is out of range") from None


def iso_time(document: JsonObject, key: str, where: str) -> str:
    """An ISO 8601 field with an offset (or `Z`) as an RFC 3339 `occurred_at`."""
    raw = text(document, key, where)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadPayload(f"{where}.{key}: {raw!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BadPayload(f"{where}.{key}: {raw!r} has no UTC offset")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def label(value: str | None) -> str | None:
    """A CRM picklist value as a dimension value: `Closed Won` -> `closed_won`."""
    if value is None:
        return None
    return _NOT_LABEL.sub("_", value.lower()).strip("_") or None


def stable_id(source: str, *parts: object) -> str:
    """A canonical `event_id` derived from the CRM's own ids: a CRM retry gets the same one.

    Ids over the canonical limit are shortened to a SHA-256 digest of the same parts.
    """
    event_id = "-".join([source, *(str(part) for part in parts)])
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return f"{source}-{hashlib.sha256(event_id.encode()).hexdigest()}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
