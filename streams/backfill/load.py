"""Export files in, canonical events out: validated, in event-time order, bad rows named."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from kpis.events import Rejection, decode_event
from streams.backfill.mapping import Chosen, choose
from streams.backfill.presets import builtins
from streams.backfill.rows import BadRow, Row, read_rows
from streams.backfill.translate import Translator
from streams.errors import ConfigError
from streams.http.ingest.payload import CanonicalEvent

# Within one instant, an entity's opening comes before its changes and these before its end.
_FIRST = ("created", "opened", "subscribed")
_LAST = ("won", "lost", "converted", "resolved", "churned")
PROGRESS_STEP = 1_000  # rows between progress updates


@dataclass(frozen=True)
class Refused:
    """A row that gave no event: where, why (`schema`), the one-line message, its bytes."""

    row: Row
    reason: str
    message: str


@dataclass
class Backfill:
    """Everything read from the exports."""

    rows: Counter[str] = field(default_factory=Counter)  # per file
    events: list[tuple[int, int, bytes]] = field(default_factory=list)  # (µs, rank, line)
    refused: list[Refused] = field(default_factory=list)

    def lines(self) -> list[bytes]:
        """The events as JSON lines, in event-time order."""
        return [line for _, _, line in sorted(self.events, key=lambda e: (e[0], e[1]))]


def table_of(argument: str, tables: list[str]) -> tuple[str, Path]:
    """`deals=export.csv`, or `deals.csv` whose name gives the table."""
    name, sep, path = argument.partition("=")
    if not sep:
        path, name = argument, Path(argument).stem.lower()
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such file")
    if name not in tables:
        raise ConfigError(
            f"{argument}: which export is it? name it TABLE=FILE with TABLE one of"
            f" {', '.join(tables)}"
        )
    return name, Path(path)


@dataclass(frozen=True)
class Export:
    """One export file, the table it is, and the preset that reads it."""

    chosen: Chosen
    table: str
    path: Path


def mixed_exports(files: list[str], preset: str | None, mapping: Path | None) -> list[Export]:
    """Every file argument, `[PRESET:]TABLE=FILE` or `[PRESET:]FILE`: one history from the
    exports of several CRMs. Files without a `PRESET:` read with `preset` and `mapping`."""
    known = builtins()
    chosen: dict[str | None, Chosen] = {}
    found = []
    for argument in files:
        prefix, colon, rest = argument.partition(":")
        name: str | None = prefix
        if not colon or prefix not in known or prefix == preset:
            name, rest = None, argument.removeprefix(f"{preset}:") if preset else argument
        if name not in chosen:
            chosen[name] = choose(preset, mapping) if name is None else choose(name, None)
        table, path = table_of(rest, list(chosen[name].preset.tables))
        found.append(Export(chosen[name], table, path))
    return found


def load_exports(files: list[Export], progress: Callable[[int], None]) -> Backfill:
    """Read every file with its table's rules; `progress` gets the rows read, in steps."""
    found = Backfill()
    for export in files:
        chosen, name, path = export.chosen, export.table, export.path
        translator = Translator(
            chosen.preset, chosen.preset.tables[name], chosen.ids, chosen.derived
        )
        for number, row in enumerate(read_rows(path)):
            if number == 0 and (missing := translator.missing(row)):
                raise ConfigError(
                    f"{path.name}: no column {', '.join(map(repr, missing))}: is it the {name}"
                    f" export of {chosen.name}? (a mapping file's `columns` renames columns)"
                )
            found.rows[path.name] += 1
            if found.rows.total() % PROGRESS_STEP == 0:
                progress(PROGRESS_STEP)
            try:
                events = translator.events(row)
                lines = [_validated(row, event) for _, event in events]
            except BadRow as problem:
                found.refused.append(Refused(row, "schema", str(problem)))
                continue
            found.events += [
                (at, _rank(str(event["type"])), line)
                for (at, event), line in zip(events, lines, strict=True)
            ]
    progress(found.rows.total() % PROGRESS_STEP)
    return found


def line_count(path: Path) -> int:
    """Lines of a file, read in blocks: the progress bar's total (rows, roughly)."""
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def _validated(row: Row, event: CanonicalEvent) -> bytes:
    """The event as a JSON line, checked as `crmkpi produce` checks it, or `BadRow`."""
    line = orjson.dumps(event)
    try:
        decode_event(line)
    except Rejection as rejection:
        raise BadRow(f"{row.where}: {event['type']}: {rejection.detail}") from None
    return line


def _rank(kind: str) -> int:
    step = kind.rpartition(".")[2]
    return 0 if step in _FIRST else 2 if step in _LAST else 1


def reasons(backfill: Backfill) -> Counter[str]:
    """Refused rows by reason."""
    return Counter(refused.reason for refused in backfill.refused)
