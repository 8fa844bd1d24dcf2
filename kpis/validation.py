"""Reading the YAML files people write (thresholds, goals): every mistake is one line that
names the file, the entry and the fix."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kpis.catalogue import KPIS_BY_NAME


def suggest(word: str, choices: list[str]) -> str:
    """` (did you mean 'csat'?)` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join("for" if part == "for_" else str(part) for part in loc)


def first_error(error: ValidationError) -> str:
    """The first problem pydantic found, as `field: message (got value)`."""
    details = error.errors()[0]
    where = _location(details["loc"])
    message = details["msg"]
    if details["type"] not in {"missing", "extra_forbidden"}:
        message += f" (got {details['input']!r})"
    if details["type"] == "literal_error" and isinstance(details["input"], str):
        choices = re.findall(r"'([^']+)'", details["ctx"]["expected"])
        message += suggest(details["input"], choices)
    if details["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}" if where else message


def describe(raw: Any) -> str:
    """` (csat 30d)`: what an entry is about, to name it in an error."""
    if isinstance(raw, dict) and isinstance(raw.get("kpi"), str):
        window = raw.get("window")
        return f" ({raw['kpi']} {window})" if isinstance(window, str) else f" ({raw['kpi']})"
    return ""


def load_document(
    text: str, source: str, key: str, error: type[ValueError]
) -> tuple[dict[str, Any], list[Any]]:
    """The YAML mapping of a file and its list of entries under `key`; `error` otherwise."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise error(f"{source}: {where}not valid YAML").with_traceback(None) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise error(f"{source}: expected a mapping with a {key!r} list")
    entries = document.get(key) or []
    if not isinstance(entries, list):
        raise error(f"{source}: {key}: expected a list of entries")
    return document, entries


Entry = TypeVar("Entry", bound=BaseModel)


def validated_entries(
    entries: list[Any],
    source: str,
    model: type[Entry],
    problem: Callable[[Entry, list[Entry]], str | None],
    error: type[ValueError],
) -> list[Entry]:
    """Each entry as `model`, checked by `problem` against the entries before it; `error`
    names the first bad one: `goals.yaml: entry 3 (csat mtd): ...`."""
    valid: list[Entry] = []
    fields = ", ".join(list(model.model_fields)[:3])
    for number, raw in enumerate(entries, start=1):
        prefix = f"{source}: entry {number}{describe(raw)}"
        if not isinstance(raw, dict):
            raise error(f"{prefix}: expected a mapping ({fields}, ...)")
        try:
            entry = model.model_validate(raw)
        except ValidationError as invalid:
            raise error(f"{prefix}: {first_error(invalid)}") from None
        found = problem(entry, valid)
        if found:
            raise error(f"{prefix}: {found}")
        valid.append(entry)
    return valid


def kpi_problem(name: str, window: str, dimension: dict[str, str] | None) -> str | None:
    """What is wrong with an entry's KPI, window and dimension against the catalogue, or None."""
    kpi = KPIS_BY_NAME.get(name)
    if kpi is None:
        return f"unknown KPI {name!r}" + suggest(name, list(KPIS_BY_NAME))
    if window not in kpi.windows:
        hint = suggest(window, list(kpi.windows))
        return f"unknown window {window!r} for {kpi.name}{hint} (one of {', '.join(kpi.windows)})"
    if dimension is not None and set(dimension) != {kpi.dimension}:
        given = ", ".join(repr(key) for key in dimension) or "nothing"
        return f"dimension: {kpi.name} is broken down by {kpi.dimension!r}, not {given}"
    return None
