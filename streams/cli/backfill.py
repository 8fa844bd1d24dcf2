"""`crmkpi backfill`: a CRM's export files as canonical events, sent like `crmkpi produce`."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from kpis.events import Rejection, format_time
from streams.backfill.guard import check_not_too_late, watermark_us
from streams.backfill.load import Backfill, line_count, load_exports, mixed_exports, reasons
from streams.cli.produce import MAX_PROBLEMS_SHOWN, print_problems
from streams.config import Settings
from streams.kafka.dead_letters import DeadLetter
from streams.kafka.outcomes import ProduceReport
from streams.kafka.producer import CrmProducer

ORIGIN = "backfill"


@dataclass(frozen=True)
class Request:
    """What `crmkpi backfill` was asked."""

    files: list[str]
    preset: str | None
    mapping: Path | None
    dry_run: bool
    force: bool
    url: str


def _progress(err: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


async def run_backfill(settings: Settings, request: Request, out: Console, err: Console) -> int:
    """Read, check, then print (`dry_run`) or send; the exit status: 1 when any was rejected."""
    started = time.monotonic()
    files = mixed_exports(request.files, request.preset, request.mapping)
    with _progress(err) as progress:
        total = sum(line_count(export.path) for export in files)
        reading = progress.add_task("reading rows ", total=total, rate="")
        found = load_exports(files, lambda n: _advance(progress, reading, n))
    lines = found.lines()
    _print_refused(found, err)
    if request.dry_run:
        out.file.writelines(line.decode() + "\n" for line in lines)
        _summary(found, None, time.monotonic() - started, err)  # stdout: only the events
        return 1 if found.refused else 0
    if not request.force:
        watermark = watermark_us(request.url, settings, err)
        check_not_too_late([at for at, _, _ in found.events], watermark, settings.grace_days)
    async with CrmProducer(settings, origin=ORIGIN) as producer:
        await producer.deliver([], _dead_letters(found))
        with _progress(err) as progress:
            sending = progress.add_task("sending events", total=len(lines), rate="")
            done = 0

            def sent(number: int) -> None:
                nonlocal done
                _advance(progress, sending, number - done)
                done = number

            report = await producer.send_lines(lines, sent)
    print_problems(report, err, "event")
    _summary(found, report, time.monotonic() - started, out)
    return 1 if found.refused or report.rejected else 0


def _advance(progress: Progress, task: TaskID, steps: int) -> None:
    """Advance a task and show its rate (rows/s or events/s)."""
    progress.advance(task, steps)
    speed = next(shown.speed for shown in progress.tasks if shown.id == task)
    progress.update(task, rate=f"{speed:,.0f}/s" if speed else "")


def _dead_letters(found: Backfill) -> list[DeadLetter]:
    now = format_time(time.time_ns() // 1000)
    return [
        DeadLetter.of(refused.row.raw, Rejection("schema", refused.message), now, ORIGIN)
        for refused in found.refused
    ]


def _print_refused(found: Backfill, err: Console) -> None:
    for refused in found.refused[:MAX_PROBLEMS_SHOWN]:
        err.print(refused.message, markup=False)
    if len(found.refused) > MAX_PROBLEMS_SHOWN:
        err.print(f"... and {len(found.refused) - MAX_PROBLEMS_SHOWN} more refused rows")


def _summary(found: Backfill, report: ProduceReport | None, seconds: float, out: Console) -> None:
    rejected: Counter[str] = reasons(found)
    if report is not None:
        rejected.update(report.rejected)
    files = ", ".join(f"{name} {count:,}" for name, count in found.rows.items())
    verb = "to send" if report is None else "sent"
    events = len(found.events) if report is None else report.sent
    by_reason = ", ".join(f"{reason} {count:,}" for reason, count in sorted(rejected.items()))
    out.print(
        f"rows {sum(found.rows.values()):,} ({files}); events {verb} {events:,};"
        f" rejected {sum(rejected.values()):,}"
        + (f" ({by_reason})" if by_reason else "")
        + f"; {seconds:.1f} s, {sum(found.rows.values()) / max(seconds, 1e-9):,.0f} rows/s",
        markup=False,
    )
