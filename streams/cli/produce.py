"""`crmkpi produce`: validate a JSONL file of canonical events and send it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from streams.config import Settings
from streams.errors import ConfigError
from streams.kafka.outcomes import ProduceReport
from streams.kafka.producer import CrmProducer

MAX_PROBLEMS_SHOWN = 50


def _lines(file: str) -> Iterator[bytes]:
    if file == "-":
        yield from sys.stdin.buffer
        return
    with Path(file).open("rb") as handle:
        yield from handle


async def produce_file(settings: Settings, file: str, out: Console, err: Console) -> ProduceReport:
    """Send every line of `file` (or stdin for `-`), printing progress and a summary."""
    if file != "-" and not Path(file).is_file():
        raise ConfigError(f"{file}: no such file")
    lines = _lines(file)
    with err.status(f"sending {file} to {settings.kafka_bootstrap}") as status:

        def progress(done: int) -> None:
            status.update(f"sending {file} to {settings.kafka_bootstrap}: {done:,} lines")

        async with CrmProducer(settings) as producer:
            report = await producer.send_lines(lines, progress)
    print_problems(report, err, "line")
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.rejected.items()))
    out.print(
        f"sent {report.sent}, rejected {report.total_rejected}"
        + (f" ({reasons})" if reasons else "")
    )
    return report


def print_problems(report: ProduceReport, err: Console, unit: str) -> None:
    """One line per rejected line (or event), the first `MAX_PROBLEMS_SHOWN` of them."""
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        event = f" (event_id {problem.event_id})" if problem.event_id else ""
        err.print(f"{unit} {problem.line}: {problem.reason}{event}: {problem.detail}")
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        err.print(f"... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more rejected {unit}s")
