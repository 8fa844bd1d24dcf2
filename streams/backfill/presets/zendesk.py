"""Zendesk's tickets with their metrics and its satisfaction ratings (docs/backfill.md).

`tickets`: the ticket CSV export (its default headers, metric columns included) or the
incremental ticket export as JSON (`include=metric_sets`, one ticket per line or an
array; its field names are read as the CSV headers). `satisfaction_ratings`: the
Satisfaction Ratings API's JSON, or a CSV with its field names. Ids are those of the
Zendesk webhook adapter for the same fact. A ticket's replies and reopens are counts:
`derived_cells` turns them into the events that decide its KPIs (docs/backfill.md).
"""

from __future__ import annotations

from kpis.events import format_time
from kpis.windows import MINUTE_US
from streams.backfill.rows import BadRow
from streams.backfill.spec import EventRule, FieldSpec, Preset, Table
from streams.backfill.values import integer, time_micros
from streams.http.ingest.payload import label
from streams.http.ingest.zendesk import PRIORITIES, UNASSIGNED, zendesk_event_id

EVENT_IDS = zendesk_event_id

SECOND_US = 1_000_000
SOLVED = ("solved", "closed")
RATED = {"good": "5", "bad": "1"}  # as the trigger to /ingest/canonical (README)
NOT_RATED = ("offered", "unoffered")
COUNTED_REPLIES = 2  # first-contact resolution reads 0, 1 or more agent replies
FIRST_RESOLUTION = "First resolution time in minutes"

TICKETS = Table(
    object="ticket",
    id_column="Id",
    entity_key="ticket_id",
    events=[
        EventRule(
            type="ticket.opened",
            at="Created at",
            required=True,
            milestone="created",
            fields={
                "team": FieldSpec(column="Group", kind="label", value=UNASSIGNED),
                "priority": FieldSpec(column="Priority", map=PRIORITIES, value="normal"),
                "customer_id": FieldSpec(column="Organization", optional=True),
            },
        ),
        *(
            EventRule(
                type="ticket.replied",
                at=f"Reply {n} at",
                milestone=f"reply_{n}",
                fields={"author": FieldSpec(value="agent")},
            )
            for n in range(1, COUNTED_REPLIES + 1)
        ),
        EventRule(type="ticket.resolved", at="First solved at"),
        EventRule(type="ticket.reopened", at="Reopened at"),
        EventRule(type="ticket.resolved", at="Solved again at"),
    ],
)

SATISFACTION_RATINGS = Table(
    object="ticket",  # one rating per ticket: its id is the ticket's, as the trigger's
    id_column="ticket_id",
    entity_key="response_id",
    events=[
        EventRule(
            type="survey.csat",
            at="Updated at",
            required=True,
            milestone="rated",
            when={"Score": "rated"},
            fields={
                "score": FieldSpec(column="Score", kind="integer", map=RATED),
                "team": FieldSpec(column="Group", kind="label", value=UNASSIGNED),
                "ticket_id": FieldSpec(column="ticket_id"),
            },
        )
    ],
)

PRESET = Preset(
    source="zendesk",
    date_formats=["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M"],
    columns={  # the JSON exports' field names as the CSV export's headers
        "Id": "id",
        "Created at": "created_at",
        "Updated at": "updated_at",
        "Priority": "priority",
        "Status": "status",
        "Organization": "organization_id",
        "Score": "score",
        "Solved at": "metric_set.solved_at",
        "Reopens": "metric_set.reopens",
        "Replies": "metric_set.replies",
        FIRST_RESOLUTION: "metric_set.first_resolution_time_in_minutes.calendar",
    },
    values={"rated": list(RATED)},
    tables={"tickets": TICKETS, "satisfaction_ratings": SATISFACTION_RATINGS},
)


def derived_cells(preset: Preset, cells: dict[str, str], where: str) -> dict[str, str]:
    """What the rules read that the exports hold only as ids and counts.

    A group id is the team `group_<id>` (as the webhook's). A ticket's first
    `min(Replies, 2)` agent replies are placed at its creation. Not reopened, it was
    solved at `Solved at`; reopened, first at `Created at` + `First resolution time in
    minutes`, reopened one second later (its one reopening the exports can date), and
    solved again at `Solved at` when its status is solved or closed.
    """
    found: dict[str, str] = {}
    group = cells.get("group_id", "").strip()
    if group and not cells.get("Group", "").strip():
        found["Group"] = f"group_{group}"
    score = label(cells.get("Score", ""))
    if score is not None and score not in {*preset.values["rated"], *NOT_RATED}:
        shown = ", ".join([*RATED, *NOT_RATED])
        raise BadRow(f'{where}: Score "{cells["Score"]}" is no Zendesk rating ({shown})')
    created = cells.get("Created at", "").strip()
    if "Status" not in cells or not created:
        return found
    replies, reopens = _count(cells, "Replies", where), _count(cells, "Reopens", where)
    found |= {f"Reply {n} at": created for n in range(1, min(replies, COUNTED_REPLIES) + 1)}
    solved = cells["Status"].strip().lower() in SOLVED
    if reopens == 0:
        if solved:
            found["First solved at"] = _needed(cells, "Solved at", where)
        return found
    opened = _time(preset, cells, "Created at", where)
    minutes = _needed(cells, FIRST_RESOLUTION, where)
    first = opened + integer(minutes, FIRST_RESOLUTION, where) * MINUTE_US
    found["First solved at"] = format_time(first)
    found["Reopened at"] = format_time(first + SECOND_US)
    if solved:
        found["Solved again at"] = _needed(cells, "Solved at", where)
        if _time(preset, cells, "Solved at", where) <= first + SECOND_US:
            raise BadRow(
                f'{where}: Solved at "{cells["Solved at"]}" is not after the first resolution'
                f" ({format_time(first)}) of a reopened ticket"
            )
    return found


DERIVED_CELLS = derived_cells


def _count(cells: dict[str, str], column: str, where: str) -> int:
    cell = cells.get(column, "").strip()
    count = integer(cell, column, where) if cell else 0
    if count < 0:
        raise BadRow(f'{where}: {column} "{cell}" is negative')
    return count


def _needed(cells: dict[str, str], column: str, where: str) -> str:
    cell = cells.get(column, "").strip()
    if not cell:
        raise BadRow(f"{where}: {column} is empty for a {cells['Status'].strip()} ticket")
    return cell


def _time(preset: Preset, cells: dict[str, str], column: str, where: str) -> int:
    return time_micros(cells[column], column, where, preset.date_formats, preset.zone)
