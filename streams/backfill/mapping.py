"""The preset in force: a built-in one, changed or defined by a YAML mapping file.

A mapping file names a built-in preset to start from (`preset: hubspot`) and overrides any
of its keys (mappings merge key by key, lists are replaced), or defines every key itself
(docs/backfill.md). Each problem is one line naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streams.backfill.presets import builtins
from streams.backfill.spec import Preset
from streams.backfill.translate import DerivedCells
from streams.errors import ConfigError
from streams.http.ingest.payload import EventIds, generic_ids


@dataclass(frozen=True)
class Chosen:
    """The preset to read the exports with, how it derives event ids and cells."""

    name: str
    preset: Preset
    ids: EventIds
    derived: DerivedCells | None = None


def choose(name: str | None, mapping: Path | None) -> Chosen:
    """The preset `name` changed by `mapping`, or the one `mapping` defines alone."""
    document = _load(mapping) if mapping is not None else {}
    name = name or document.pop("preset", None)
    document.pop("preset", None)
    known = builtins()
    if name is None and mapping is None:
        raise ConfigError(f"backfill: give --preset ({', '.join(sorted(known))}) or --mapping")
    if name is not None and name not in known:
        raise ConfigError(f"unknown preset {name!r} (one of {', '.join(sorted(known))})")
    base = known[name].preset.model_dump() if name is not None else {}
    try:
        preset = Preset.model_validate(_merged(base, document))
    except ValidationError as error:
        raise ConfigError(_one_line(mapping, error)) from None
    if name is not None and preset.source == known[name].preset.source:
        return Chosen(name, preset, known[name].ids, known[name].derived)
    return Chosen(name or preset.source, preset, generic_ids(preset.source))


def _load(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (preset, tables, values, ...)")
    return document


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _one_line(mapping: Path | None, error: ValidationError) -> str:
    """Every problem of the mapping as `file: key.path: message`, one line each."""
    where = str(mapping) if mapping is not None else "preset"
    problems = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top)"
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {key}: {message}")
    return "\n".join(problems)
