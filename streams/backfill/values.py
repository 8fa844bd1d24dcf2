"""Cells as canonical values: labels, numbers, times; a bad cell is one `BadRow` line."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kpis.events import to_micros
from streams.backfill.rows import BadRow
from streams.http.ingest.payload import label


def number(cell: str, column: str, where: str) -> float:
    """A finite number (`1234.5`, `1,234.50` with a thousands comma is refused: ambiguous)."""
    try:
        value = float(cell.strip())
    except ValueError:
        raise BadRow(f'{where}: {column} "{cell}" is not a number') from None
    if not math.isfinite(value):
        raise BadRow(f'{where}: {column} "{cell}" is not a finite number')
    return value


def integer(cell: str, column: str, where: str) -> int:
    value = number(cell, column, where)
    if not value.is_integer():
        raise BadRow(f'{where}: {column} "{cell}" is not a whole number')
    return int(value)


def as_label(cell: str, column: str, where: str) -> str:
    """A dimension value as a short label (`Closed Won` -> `closed_won`)."""
    value = label(cell)
    if value is None:
        raise BadRow(f'{where}: {column} "{cell}" holds no letter or digit')
    return value


def time_micros(cell: str, column: str, where: str, formats: list[str], zone: ZoneInfo) -> int:
    """Epoch microseconds of an ISO 8601 time or date, else of the first format that reads
    it; a time without an offset, or a date alone (its midnight), is in `zone`."""
    text = cell.strip()
    for parse in (datetime.fromisoformat, *(_strptime(form) for form in formats)):
        try:
            moment = parse(text)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return to_micros(moment)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        shown = ", ".join(["ISO 8601", *formats])
        raise BadRow(f'{where}: {column} "{cell}" is not a date or time ({shown})') from None
    return to_micros(datetime(day.year, day.month, day.day, tzinfo=zone))


def _strptime(form: str) -> Callable[[str], datetime]:
    return lambda text: datetime.strptime(text, form)
