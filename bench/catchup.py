"""The users' setting: `crmkpi up` catching up on a long history with a scorecard reader.

    PYTHONPATH=$PWD python3 -m bench.catchup                    # 1,080 days, scale 0.17
    PYTHONPATH=$PWD python3 -m bench.catchup --days 540 --profile catchup.txt
    PYTHONPATH=$PWD python3 -m bench.catchup --workers 1           # one worker process
    PYTHONPATH=$PWD python3 -m bench.catchup --workers 2 --redis redis://127.0.0.1:6379/15

The history (about 440 events a day at scale 0.17) ends the day before the run, so every
event is valid. It is sent with `crmkpi produce`, as users send an export, to a fresh
broker; then a plain aiokafka + orjson consumer reads it (the baseline), then
`crmkpi up --bootstrap` catches up from offset 0 while a reader GETs `/kpis` every 0.5 s,
as an open scorecard does. The worker's rate counts the events applied or rejected
between the asking of the last read before any progress and the answer of the read that
sees lag 0. `--profile`
records the worker with py-spy (raw folded stacks) while it catches up.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import redis as redis_client
import typer
from pydantic import SecretStr

from bench import services, throughput
from bench.report import milliseconds
from streams.cli.up import default_workers
from streams.config import Settings
from streams.kafka.broker import free_port
from streams.kafka.topics import Topics
from streams.simulate import NO_ANOMALIES, Anomalies, simulate_history
from tests.waiting import wait_until

DAYS, SCALE, SEED = 1080, 0.17, 7  # the defaults, `python -m bench`'s too
READ_EVERY_SECONDS = 0.5
TIMEOUT_SECONDS = 1800.0


@dataclass(frozen=True)
class Reading:
    """One `/kpis` answer: when it was asked, how long it took, events handled, lag."""

    at: float
    seconds: float
    handled: int
    lag: int | None


def history_ending_yesterday(
    seed: int, days: int, scale: float, anomalies: Anomalies = NO_ANOMALIES
) -> Iterator[str]:
    """The lines of a history of `days` days ending yesterday (UTC): every event valid."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days)
    return simulate_history(seed, days, start=start, scale=scale, anomalies=anomalies)


def write_history(path: Path, days: int, scale: float, seed: int) -> int:
    """A history of `days` days ending yesterday (UTC); returns its number of events."""
    count = 0
    with path.open("w") as out:
        for line in history_ending_yesterday(seed, days, scale):
            out.write(line + "\n")
            count += 1
    return count


def crmkpi_env(bootstrap: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, CRMKPI_KAFKA_BOOTSTRAP=bootstrap, PYTHONUNBUFFERED="1", **extra)
    env.pop("CRMKPI_REDIS_URL", None)
    return env


def produce(bootstrap: str, history: Path, rejections_expected: bool = False) -> float:
    """Send the history with `crmkpi produce` (which exits 1 when it rejected lines: an
    error unless `rejections_expected`); its seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "streams", "produce", str(history)],
        env=crmkpi_env(bootstrap),
        capture_output=True,
        text=True,
    )
    if done.returncode not in ((0, 1) if rejections_expected else (0,)):
        raise RuntimeError(f"crmkpi produce failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def read_while(url: str, stop: threading.Event, readings: list[Reading]) -> None:
    """GET /kpis every READ_EVERY_SECONDS until `stop`."""
    while not stop.is_set():
        asked = time.perf_counter()
        try:
            snapshot = services.get_json(f"{url}/kpis")
        except OSError:
            stop.wait(READ_EVERY_SECONDS)
            continue
        events = snapshot["events"]
        handled = events["accepted"] + sum(events["rejected"].values())
        readings.append(Reading(asked, time.perf_counter() - asked, handled, snapshot["lag"]))
        stop.wait(READ_EVERY_SECONDS)


def catch_up(
    bootstrap: str, logs: Path, profile: Path | None, workers: int | None, redis: str | None
) -> dict[str, Any]:
    """`crmkpi up --bootstrap` from offset 0 with a reader; rate and read times. Its workers
    are `up`'s default unless given."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = crmkpi_env(bootstrap, CRMKPI_HTTP_PORT=str(port), CRMKPI_GROUP_ID="bench-catchup")
    command = [sys.executable, "-m", "streams", "up", "--bootstrap", bootstrap]
    if workers is not None:
        command += ["--workers", str(workers)]
    if redis is not None:
        command += ["--redis", redis]
    readings: list[Reading] = []
    stop = threading.Event()
    launched = time.perf_counter()
    with (logs / "up.log").open("w") as output:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    reader = threading.Thread(target=read_while, args=(url, stop, readings))
    spy = None
    try:
        reader.start()
        if profile is not None:
            spy = start_profile(process.pid, profile)
        wait_until(
            lambda: readings and readings[-1].lag == 0 and readings[-1].handled > 0,
            "crmkpi up to catch up",
            timeout=TIMEOUT_SECONDS,
        )
    finally:
        stop.set()
        reader.join()
        if spy is not None:
            spy.wait()
        process.terminate()
        process.wait(30)
    return summarize(readings, launched)


def flush_redis(url: str) -> None:
    """Empty the Redis database the workers will share."""
    client = redis_client.Redis.from_url(url)
    client.flushdb()
    client.close()


def start_profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording `pid` for 30 s into `out` (raw folded stacks)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [binary, "record", "-p", str(pid), "-d", "30", "-r", "50", "--threads", "-f", "raw"]
    return subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL)


def summarize(readings: list[Reading], launched: float) -> dict[str, Any]:
    """The catch-up rate and the /kpis answer times while catching up. The rate counts from
    the last read before any progress or, when the first read already saw progress (a short
    history caught up at once), from `launched` (start-up included), to the answer of the
    read that saw it caught up: a lower bound. (Up to its asking, a slow last read, 3 s
    with Redis once, made a rate look twice as fast.)"""
    idle = [r for r in readings if r.handled == 0]
    start = idle[-1].at if idle else launched
    done = readings[-1]
    busy = sorted(r.seconds for r in readings if r.handled and r is not done)
    return {
        "events": done.handled,
        "worker_per_second": done.handled / (done.at + done.seconds - start),
        "kpis_ms_median": 1000 * busy[len(busy) // 2] if busy else None,
        "kpis_ms_max": 1000 * busy[-1] if busy else None,
        "reads": len(readings),
    }


def measure(
    days: int,
    scale: float,
    seed: int,
    profile: Path | None = None,
    workers: int | None = None,
    redis: str | None = None,
) -> dict[str, Any]:
    """The baseline and `crmkpi up` on the same freshly loaded broker."""
    with tempfile.TemporaryDirectory(prefix="crmkpi-catchup-") as directory:
        logs = Path(directory)
        history = logs / "history.jsonl"
        events = write_history(history, days, scale, seed)
        with services.broker(logs) as bootstrap:
            produced_seconds = produce(bootstrap, history)
            base = asyncio.run(throughput.baseline(bootstrap, Topics(), events))
            if redis is not None:
                flush_redis(redis)
            worker = catch_up(bootstrap, logs, profile, workers, redis)
    count = workers or default_workers(Settings(redis_url=SecretStr(redis) if redis else None))
    return {
        "days": days,
        "scale": scale,
        "workers": count,
        "store": "Redis" if redis else "in-process" if count == 1 else "relayed",
        "cpus": os.cpu_count(),
        "history_events": events,
        "produce_seconds": produced_seconds,
        "baseline_per_second": base.per_second,
        **worker,
        "ratio": worker["worker_per_second"] / base.per_second,
    }


def main(
    days: Annotated[int, typer.Option(help="Days of history.")] = DAYS,
    scale: Annotated[float, typer.Option(help="Simulator volume multiplier.")] = SCALE,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = SEED,
    profile: Annotated[Path | None, typer.Option(help="py-spy raw stacks of the worker.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="`crmkpi up --workers` [default: up's own].")
    ] = None,
    redis: Annotated[str | None, typer.Option(help="Redis URL (emptied) to share.")] = None,
) -> None:
    """Print the catch-up figures of `crmkpi up` beside a plain consumer's."""
    result = measure(days, scale, seed, profile, workers, redis)
    count = result["workers"]
    print(
        f"{result['history_events']:,} events over {days} days: crmkpi up "
        f"({count} worker{'s' if count > 1 else ''}, {result['store']} store, "
        f"{result['cpus']} CPUs) "
        f"{result['worker_per_second']:,.0f}/s, plain consumer "
        f"{result['baseline_per_second']:,.0f}/s, ratio {result['ratio']:.2f}; "
        f"/kpis while catching up: median {milliseconds(result['kpis_ms_median'])}, "
        f"max {milliseconds(result['kpis_ms_max'])} ({result['reads']} reads)"
    )


if __name__ == "__main__":
    typer.run(main)
