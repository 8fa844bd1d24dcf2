"""One export row as canonical events, by its table's rules; ids from the preset's CRM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kpis.events import format_time
from streams.backfill.rows import BadRow, Row, cells_of
from streams.backfill.spec import EventRule, FieldSpec, Preset, Table
from streams.backfill.values import as_label, integer, number, time_micros
from streams.http.ingest.payload import CanonicalEvent, EventIds, canonical_event, label

DerivedCells = Callable[[Preset, dict[str, str], str], dict[str, str]]
"""(preset, a row's cells by preset column, where) -> cells computed from them, or `BadRow`."""


@dataclass(frozen=True)
class Translator:
    """Turns rows of one table into events."""

    preset: Preset
    table: Table
    ids: EventIds
    derived: DerivedCells | None = None

    def events(self, row: Row) -> list[tuple[int, CanonicalEvent]]:
        """(time in µs, event) for every rule the row matches, or `BadRow` (no event)."""
        cells = self._cells(row)
        if self.derived is not None:
            cells |= self.derived(self.preset, cells, row.where)
        record = cells.get(self.table.id_column, "").strip()
        if not record:
            raise BadRow(f"{row.where}: {self.table.id_column} is empty")
        timed = [
            (rule, at, extra)
            for rule in self.table.events
            if self._matches(rule, cells)
            for at, extra in self._times(rule, cells, row.where)
        ]
        # no event before the record's creation: a date-only cell of that day means then
        opened = min((at for rule, at, _ in timed if rule.required), default=None)
        found: list[tuple[int, CanonicalEvent]] = []
        for rule, at, extra in timed:
            at = at if opened is None else max(at, opened)
            fields = {**self._fields(rule, cells, row.where), **extra}
            if self._skipped(rule, fields.get("stage")):
                continue
            fields[self.table.entity_key] = record
            event_id = self._given_id(cells) or self.ids(
                self.table.object, record, rule.type, at // 1000, rule.milestone, rule.changed
            )
            event = canonical_event(
                self.preset.source, event_id, rule.type, format_time(at), **fields
            )
            found.append((at, event))
        return found

    def _given_id(self, cells: dict[str, str]) -> str | None:
        column = self.table.event_id_column
        return (cells.get(column, "").strip() or None) if column else None

    def missing(self, row: Row) -> list[str]:
        """The columns every row of this table needs that the export lacks."""
        if not row.cells:  # not a record: refused as a bad row
            return []
        cells = self._cells(row)
        needed = [self.table.id_column, *(rule.at for rule in self.table.events if rule.required)]
        return [column for column in needed if column not in cells]

    def _cells(self, row: Row) -> dict[str, str]:
        cells = dict(cells_of(row))
        for preset_column, export_column in self.preset.columns.items():
            if export_column in cells:
                cells[preset_column] = cells[export_column]
        return cells

    def _in_set(self, value: str, set_name: str) -> bool:
        wanted = {label(member) for member in self.preset.values[set_name]}
        return label(value) in wanted

    def _skipped(self, rule: EventRule, stage: object) -> bool:
        """Whether `stage` is in one of the rule's `skip` value sets."""
        return isinstance(stage, str) and any(self._in_set(stage, name) for name in rule.skip)

    def _matches(self, rule: EventRule, cells: dict[str, str]) -> bool:
        return all(self._in_set(cells.get(column, ""), name) for column, name in rule.when.items())

    def _times(
        self, rule: EventRule, cells: dict[str, str], where: str
    ) -> list[tuple[int, dict[str, object]]]:
        """When the rule's events happened, each with the fields its time column gives."""
        zone, formats = self.preset.zone, self.preset.date_formats
        if rule.stage_columns is None:
            cell = cells.get(rule.at, "").strip()
            if not cell:
                if rule.required:
                    raise BadRow(f"{where}: {rule.at} is empty")
                return []
            return [(time_micros(cell, rule.at, where, formats, zone), {})]
        times: list[tuple[int, dict[str, object]]] = []
        for column, cell in cells.items():
            if not column.startswith(rule.stage_columns) or not cell.strip():
                continue
            stage = stage_of(column.removeprefix(rule.stage_columns))
            if stage is None or self._skipped(rule, stage):
                continue
            times.append((time_micros(cell, column, where, formats, zone), {"stage": stage}))
        return times

    def _fields(self, rule: EventRule, cells: dict[str, str], where: str) -> dict[str, object]:
        return {name: _value(spec, cells, where) for name, spec in rule.fields.items()}


def stage_of(header_rest: str) -> str | None:
    """The stage of a stage-entry header: `"Closed Won (Sales Pipeline)"` -> `closed_won`."""
    name = header_rest.strip().strip("\"'").strip()
    if name.endswith(")") and "(" in name:
        name = name[: name.rindex("(")]
    return label(name)


def _value(spec: FieldSpec, cells: dict[str, str], where: str) -> object:
    column = spec.column or ""
    cell = cells.get(column, "").strip() if spec.column else ""
    if cell:
        mapped = {label(key): value for key, value in spec.map.items()}.get(label(cell), cell)
        if spec.kind == "number":
            return number(mapped, column, where)
        if spec.kind == "integer":
            return integer(mapped, column, where)
        return as_label(mapped, column, where) if spec.kind == "label" else mapped
    if spec.value is not None or spec.optional:
        return spec.value
    raise BadRow(f"{where}: {column} is empty")
