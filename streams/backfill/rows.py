"""Reading export files as rows: CSV, JSON lines or a JSON array of objects.

A row is a flat mapping of column to text; nested JSON objects are flattened to dotted
names (`via.channel`) so that JSON exports are mapped like CSV ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.errors import ConfigError


@dataclass(frozen=True)
class Row:
    """One record of an export: where it is (`deals.csv:12`) and its cells."""

    where: str
    cells: dict[str, str]
    raw: bytes  # the record as read, for the dead-letter topic


class BadRow(Exception):
    """A row that gives no event: the one-line message names the file, line and cell."""


def read_rows(path: Path) -> Iterator[Row]:
    """The rows of a `.csv`, `.jsonl`/`.ndjson` or `.json` (array or lines) export."""
    if path.suffix.lower() in {".json", ".jsonl", ".ndjson"}:
        yield from _json_rows(path)
    else:
        yield from _csv_rows(path)


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        header = [name.strip() for name in header]
        start = reader.line_num + 1
        for values in reader:
            where = f"{path.name}:{start}"
            start = reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            raw = _csv_line(values)
            if len(values) != len(header):
                yield Row(where, {}, raw)  # refused by `cells_of`
                continue
            yield Row(where, dict(zip(header, values, strict=True)), raw)


def _csv_line(values: list[str]) -> bytes:
    """A CSV record written back as one line (quoted as needed), for the dead-letter topic."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(values)
    return line.getvalue().encode()


def _json_rows(path: Path) -> Iterator[Row]:
    data = path.read_bytes()
    if data.lstrip().startswith(b"["):
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{path.name}: not a JSON array: {error}") from None
        for n, item in enumerate(items):
            yield _json_row(f"{path.name}:[{n}]", item, orjson.dumps(item))
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield Row(where, {}, line)
            continue
        yield _json_row(where, item, line)


def _json_row(where: str, item: object, raw: bytes) -> Row:
    if not isinstance(item, dict):
        return Row(where, {}, raw)
    return Row(where, dict(_flat(item, "")), raw)


def _flat(item: dict[str, object], prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat(value, f"{name}.")
        elif value is None:
            yield name, ""
        elif isinstance(value, bool):
            yield name, "true" if value else "false"
        elif isinstance(value, str | int | float):
            yield name, str(value)
        else:
            yield name, orjson.dumps(value).decode()


def cells_of(row: Row) -> dict[str, str]:
    """The row's cells, or `BadRow` for a record that is no row (wrong column count)."""
    if not row.cells:
        raise BadRow(f"{row.where}: not a record of the export (wrong column count or JSON)")
    return row.cells
