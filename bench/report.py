"""The benchmark's results: a rich table on the terminal and a JSON document."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.snapshot import LIVE_STEP_EVENTS


def spread(values: list[float]) -> dict[str, Any]:
    """Min, median and every run of a repeated measurement."""
    return {"min": min(values), "median": statistics.median(values), "runs": values}


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def milliseconds(value: float | None) -> str:
    """`86 ms`, or `-` when nothing was measured (a catch-up too short to be read)."""
    return "-" if value is None else f"{value:,.0f} ms"


def print_table(results: dict[str, Any], console: Console) -> None:
    table = Table(title=f"crmkpi benchmark ({results['mode']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("note")
    tp = results["throughput"]
    table.add_row(
        "worker events/s",
        f"{tp['worker_per_second']['median']:,.0f}",
        f"median of {len(tp['worker_per_second']['runs'])}, min "
        f"{tp['worker_per_second']['min']:,.0f}; {tp['events']:,} events",
    )
    table.add_row(
        "baseline events/s",
        f"{tp['baseline_per_second']['median']:,.0f}",
        f"plain aiokafka + JSON loop, min {tp['baseline_per_second']['min']:,.0f}",
    )
    table.add_row(
        "worker / baseline",
        f"{tp['ratio']['median']:.1%}",
        f"same-run ratios, min {tp['ratio']['min']:.1%} (target 50%)",
    )
    for key, setting in (("latency", "live"), ("latency_replayed", "replayed history")):
        add_latency_rows(table, results[key], setting)
    memory = results["memory"]
    table.add_row("100k open opportunities", f"{memory['opportunities_mib_per_100k']:.1f} MiB", "")
    table.add_row("100k open tickets", f"{memory['tickets_mib_per_100k']:.1f} MiB", "")
    table.add_row("worker RSS", f"{results['worker_rss_mib']:.0f} MiB", "after the throughput run")
    for endpoint, timing in results["scrape"].items():
        table.add_row(
            f"GET {endpoint}",
            f"{timing['median_ms']:.1f} ms",
            f"max {timing['max_ms']:.1f} ms, {timing['bytes']:,} bytes",
        )
    snap = results["snapshot"]
    state = f"{snap['part_keys']:,} part keys in {snap['partitions']} partitions"
    table.add_row(
        "snapshot build",
        f"{snap['snapshot_cold_ms']:.1f} ms",
        f"all partitions summarized; {state}, {snap['events']:,} events",
    )
    table.add_row(
        "snapshot, one published whole",
        f"{snap['snapshot_one_whole_ms']:.1f} ms",
        f"the biggest partition ({snap['biggest_partition_keys']:,} keys), as a snapshot",
    )
    table.add_row(
        "snapshot, live step",
        f"{snap['snapshot_live_step_ms']:.1f} ms",
        f"after {LIVE_STEP_EVENTS} more events were applied and published",
    )
    table.add_row("snapshot, unchanged", f"{snap['snapshot_warm_ms']:.2f} ms", "cached")
    for endpoint, key in (("/metrics", "metrics"), ("/kpis", "kpis")):
        table.add_row(
            f"{endpoint} in process",
            f"{snap[key + '_cold_ms']:.1f} ms",
            f"snapshot build + rendering; {snap[key + '_warm_ms']:.1f} ms unchanged",
        )
    add_catchup_rows(table, results["catchup"])
    add_readers_row(table, results["readers"])
    console.print(table)


def add_latency_rows(table: Table, runs: list[dict[str, Any]], setting: str) -> None:
    """(b) p50 and p99 at each offered load, in one setting."""
    for run in runs:
        table.add_row(
            f"latency at {run['offered_per_second']:,.0f}/s ({setting})",
            f"p50 {run['p50_ms']:,.0f} ms, p99 {run['p99_ms']:,.0f} ms",
            f"achieved {run['achieved_per_second']:,.0f}/s, max {run['max_ms']:,.0f} ms",
        )


def add_catchup_rows(table: Table, runs: list[dict[str, Any]]) -> None:
    """(f), (g): each worker count's catch-up rate and /kpis times, then the scaling."""
    for run in runs:
        workers = f"{run['workers']} worker{'s' if run['workers'] > 1 else ''}"
        workers += f", {run['store']} store"
        table.add_row(
            f"catch-up, {workers}",
            f"{run['worker_per_second']:,.0f} events/s",
            f"{run['ratio']:.1%} of a plain consumer ({run['baseline_per_second']:,.0f}/s); "
            f"{run['events']:,} events over {run['days']:,} days, {run['cpus']} CPUs",
        )
        table.add_row(
            f"/kpis while catching up, {workers}",
            f"median {milliseconds(run['kpis_ms_median'])}",
            f"max {milliseconds(run['kpis_ms_max'])}; {run['reads']} reads, "
            "each 0.5 s after an answer",
        )
    one = runs[0]
    for most in runs[1:]:
        rates = most["worker_per_second"] / one["worker_per_second"]
        table.add_row(
            f"catch-up, {most['workers']} workers ({most['store']} store) / 1",
            f"{most['ratio'] / one['ratio']:.2f}x",
            f"of the ratios to each run's plain consumer; {rates:.2f}x of the rates",
        )


def add_readers_row(table: Table, readers: dict[str, Any]) -> None:
    """(h): the catch-up rate with a reader every few seconds against none."""
    ratio, cpu_alone, cpu_read = (
        readers[key] for key in ("ratio", "cpu_us_per_event_alone", "cpu_us_per_event_read")
    )
    table.add_row(
        f"reader every {readers['every_seconds']:g} s / none",
        f"{ratio['median']:.1%}",
        f"median of {len(ratio['runs'])} pair(s), min {ratio['min']:.1%}; "
        f"{readers['read_per_second']['median']:,.0f} vs "
        f"{readers['alone_per_second']['median']:,.0f} events/s, CPU "
        f"{cpu_read['median']:.1f} vs {cpu_alone['median']:.1f} µs/event; "
        f"{readers['events']:,} events",
    )
