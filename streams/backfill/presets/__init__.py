"""The built-in presets: every module here that defines `PRESET` is one, named by its
module (`hubspot.py` -> `--preset hubspot`); it may define `EVENT_IDS` to give the ids its
CRM's webhook adapter gives the same facts, else ids are `generic_ids(PRESET.source)`, and
`DERIVED_CELLS` to compute cells the rules read from others (a time plus a duration, an
event per count) when its export gives no such column."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from streams.backfill.spec import Preset
from streams.backfill.translate import DerivedCells
from streams.http.ingest.payload import EventIds, generic_ids


@dataclass(frozen=True)
class Builtin:
    preset: Preset
    ids: EventIds
    derived: DerivedCells | None = None


def builtins() -> dict[str, Builtin]:
    """Every built-in preset by name."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        preset = getattr(loaded, "PRESET", None)
        if isinstance(preset, Preset):
            ids = getattr(loaded, "EVENT_IDS", None) or generic_ids(preset.source)
            found[module.name] = Builtin(preset, ids, getattr(loaded, "DERIVED_CELLS", None))
    return found
