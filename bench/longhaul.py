"""Years of uptime (issue 17): memory and recovery after a short and a long history.

    PYTHONPATH=$PWD python3 -m bench.longhaul                  # 90 and 720 days
    PYTHONPATH=$PWD python3 -m bench.longhaul --days 90 --days 540 --scale 0.1

For each length, a history at the same daily volume, ending yesterday and with stale
copies (re-deliveries 30 to 80 days later, on both sides of the grace period), is sent
with `crmkpi produce` to a fresh broker. A `crmkpi worker` catches up; its RSS and
`crmkpi_state_entries` are read, and every KPI of `/kpis` is compared with the reference
computed from the raw lines. The worker is then SIGKILLed and a new one in its group
recovers every partition: `crmkpi_recovery_bytes` and `crmkpi_recovery_seconds` say what
that cost, and its `/kpis` is compared again.

In between, `bench.checkpoint_census` reads the checkpoint log: what the recovery will
read (the latest snapshots, the changes after them, other sources' superseded records)
and the state it rebuilds, encoded as a snapshot. The state itself grows with the
simulator's customer base and its open leads (held for as long as they are open), so the
figures to compare between the histories are recovery bytes and time per state byte.
"""

from __future__ import annotations

import os
import signal
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import catchup, checkpoint_census, services
from streams.simulate import Anomalies
from tests.processes import scrape
from tests.reference import compare_snapshot, compute_reference
from tests.waiting import wait_until

STALE_COPIES = 0.002  # per good record


def write_history(path: Path, days: int, scale: float, seed: int) -> list[str]:
    """`days` days ending yesterday (UTC), with stale copies; returns the lines."""
    anomalies = Anomalies(stale_copy=STALE_COPIES)
    lines = list(catchup.history_ending_yesterday(seed, days, scale, anomalies))
    path.write_text("\n".join(lines) + "\n")
    return lines


def wait_caught_up(url: str, accepted: int) -> dict[str, Any]:
    """The worker's snapshot once its lag is 0 with at least `accepted` events."""
    snapshot: dict[str, Any] = wait_until(
        lambda: services.get_json(f"{url}/kpis"),
        f"{url} to catch up",
        lambda got: got["lag"] == 0 and got["events"]["accepted"] >= accepted,
        ignoring=(OSError,),
        timeout=3600,
    )
    return snapshot


def measure_one(days: int, scale: float, seed: int, logs: Path) -> dict[str, Any]:
    history = logs / f"history-{days}.jsonl"
    lines = write_history(history, days, scale, seed)
    reference = compute_reference(lines, now=datetime.now(UTC))
    group = f"longhaul-{days}"
    with services.broker(logs) as bootstrap:
        catchup.produce(bootstrap, history, rejections_expected=True)  # stale copies
        with services.worker(bootstrap, logs, f"first-{days}", group=group) as (url, pid):
            first = wait_caught_up(url, reference.accepted)
            held = scrape(url)
            rss = services.rss_bytes(pid)
            os.kill(pid, signal.SIGKILL)
        census = checkpoint_census.take(bootstrap)
        with services.worker(bootstrap, logs, f"second-{days}", group=group) as (url, _):
            second = wait_caught_up(url, reference.accepted)
            recovered = scrape(url)
    entries = {
        dict(labels)["kind"]: value
        for (name, labels), value in held.items()
        if name == "crmkpi_state_entries"
    }
    recovery_bytes = recovered.get(("crmkpi_recovery_bytes", ()), 0.0)
    recovery_seconds = recovered.get(("crmkpi_recovery_seconds", ()), 0.0)
    return {
        "days": days,
        "events": len(lines),
        "rejected": reference.rejected,
        "rss_mib": round(rss / 2**20, 1),
        "state_entries": entries,
        "ids_by_owner": dict(census.ids_by_owner),
        "state_bytes": census.state,
        "log_read": {
            "snapshots": census.snapshots,
            "changes": census.changes,
            "superseded": census.superseded,
            "fences": census.fences,
        },
        "recovery_bytes": recovery_bytes,
        "recovery_seconds": round(recovery_seconds, 3),
        "recovery_bytes_per_state_byte": round(recovery_bytes / census.state, 2),
        "recovery_us_per_state_kb": round(recovery_seconds * 1e9 / census.state, 1),
        "exact_before_kill": compare_snapshot(reference, first) == [],
        "exact_after_recovery": compare_snapshot(reference, second) == [],
    }


def main(
    days: Annotated[list[int] | None, typer.Option(help="History lengths.")] = None,
    scale: Annotated[float, typer.Option(help="Simulator volume multiplier.")] = 0.17,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """Print memory, held state and recovery cost for each history length."""
    lengths = days or [90, 720]
    with tempfile.TemporaryDirectory(prefix="crmkpi-longhaul-") as directory:
        results = [measure_one(length, scale, seed, Path(directory)) for length in lengths]
    for result in results:
        print(result)
    shortest, longest = results[0], results[-1]
    for key in (
        "state_bytes",
        "recovery_bytes",
        "recovery_seconds",
        "recovery_bytes_per_state_byte",
        "recovery_us_per_state_kb",
        "rss_mib",
    ):
        if shortest[key] and longest[key]:
            ratio = longest[key] / shortest[key]
            print(f"{key}: {ratio:.2f}x from {lengths[0]} to {lengths[-1]} days")


if __name__ == "__main__":
    typer.run(main)
