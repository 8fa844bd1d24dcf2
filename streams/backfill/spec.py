"""What a preset declares: which events each row of an export gives, from which columns.

A preset is data (pydantic models), so a YAML mapping file can override or define one
with the same validation and the same one-line errors.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpis.events import EVENT_TYPES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One canonical field: a column's cell (mapped, parsed), else a constant `value`."""

    column: str | None = None
    value: str | float | None = None  # when the column is absent or its cell empty
    kind: Literal["text", "label", "number", "integer"] = "text"
    map: dict[str, str] = Field(default_factory=dict)  # export value -> canonical value
    optional: bool = False  # empty and no `value`: left out instead of a bad row

    @model_validator(mode="after")
    def _has_a_source(self) -> FieldSpec:
        if self.column is None and self.value is None:
            raise ValueError("give a column or a value")
        return self


class EventRule(_Strict):
    """One canonical event a row may give: when, at which time, with which fields.

    `at` names the time column (an empty cell gives no event, unless `required`);
    `when` maps a column to the name of a value set of the preset: the row gives the
    event only when that cell is in the set. With `stage_columns` (a header prefix such
    as HubSpot's `Date entered `) the row gives one event per such column with a time,
    its `stage` field the rest of the header. A `stage` (from a column or a header) in
    one of the `skip` value sets gives no event. No event of a row is earlier than its
    `required` one (the record's creation: a date-only cell of that day means then).
    `milestone` / `changed` feed the preset's event ids (a milestone is one per record).
    """

    type: str
    at: str = ""
    required: bool = False
    when: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    milestone: str | None = None
    changed: str | None = None
    stage_columns: str | None = None
    skip: list[str] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _known_type(cls, kind: str) -> str:
        known = sorted(str(event.__struct_config__.tag) for event in EVENT_TYPES)
        if kind not in known:
            raise ValueError(f"unknown event type {kind!r} (one of {', '.join(known)})")
        return kind

    @model_validator(mode="after")
    def _has_a_time(self) -> EventRule:
        if not self.at and not self.stage_columns:
            raise ValueError("give `at` (the time column) or `stage_columns`")
        return self


class Table(_Strict):
    """One export file kind (`deals`, `contacts`, ...): its record id and its events."""

    object: str  # the CRM's object name, part of every event id (`deal`, `ticket`, ...)
    id_column: str
    entity_key: str  # the canonical field the record id fills (`opportunity_id`, ...)
    # a cell here is the event id, as the export gives it (tables of one event per row)
    event_id_column: str | None = None
    events: list[EventRule]


class Preset(_Strict):
    """A CRM's exports: per file kind, the events its rows give."""

    source: str
    timezone: str = "UTC"  # of times without an offset and of date-only cells
    date_formats: list[str] = Field(default_factory=list)  # strptime, after ISO 8601
    columns: dict[str, str] = Field(default_factory=dict)  # preset column -> export column
    values: dict[str, list[str]] = Field(default_factory=dict)  # named value sets
    tables: dict[str, Table]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
            ) from None
        return name

    @model_validator(mode="after")
    def _value_sets_exist(self) -> Preset:
        for table_name, table in self.tables.items():
            for n, rule in enumerate(table.events):
                for name in [*rule.when.values(), *rule.skip]:
                    if name not in self.values:
                        raise ValueError(
                            f"tables.{table_name}.events.{n}: unknown value set {name!r}"
                            f" (defined: {', '.join(sorted(self.values)) or 'none'})"
                        )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
