"""Export files read by a preset without a broker: the backfill tests' one way to load them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streams.backfill.load import Backfill, load_exports, mixed_exports


def read_exports(
    tmp_path: Path, preset: str, files: dict[str, str], mapping: Path | None = None
) -> Backfill:
    """Write each (file name, text) under `tmp_path` and read them all with `preset`."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = [str(tmp_path / name) for name in files]
    return load_exports(mixed_exports(paths, preset, mapping), lambda _: None)


def read_export(
    tmp_path: Path, preset: str, name: str, text: str, mapping: Path | None = None
) -> Backfill:
    """One export file, written and read with `preset`."""
    return read_exports(tmp_path, preset, {name: text}, mapping)


def events_of(found: Backfill) -> list[dict[str, Any]]:
    """The events read, as dicts, in the order they would be sent."""
    return [json.loads(line) for line in found.lines()]
