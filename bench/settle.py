"""How long a group of 3 workers takes to settle after one is SIGKILLed, and after one joins.

    PYTHONPATH=$PWD python3 -m bench.settle --runs 3
    PYTHONPATH=$PWD scripts/with-busy-core.sh python3 -m bench.settle --runs 3

Issue 22 (docs/busy-machine.md). Per run, on a fresh embedded broker: three `crmkpi
worker`s of one group, set up as the integration tests run them (3 partitions a
topic, a 6 s session timeout), own every source partition; a simulated history goes
in and, while they apply it, one of them is SIGKILLed; once the two survivors own
everything, a second history goes in and a new worker is started (as
tests/integration/test_rebalance.py adds one). Their /metrics are read every 0.1 s. For each
change: the seconds until the members own every partition between them, each some;
the longest stretch in which none owned any (what tests/integration/test_chaos.py `pick_owner`
waits through); and the rebalances the members count until OBSERVE_SECONDS after
settling: one each is a settled rebalance, more is a storm.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench import services, workload
from streams.kafka.topics import Topics
from tests.waiting import wait_until

MEMBERS = 3
PARTITIONS = 3
SESSION_TIMEOUT_SECONDS = "6"  # as tests/processes.py runs workers
KILL_AFTER_SECONDS = 1.0  # into the history: the workers are applying batches
OBSERVE_SECONDS = 10.0  # after settling, for rebalances that keep coming
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Health:
    """What a worker's /metrics says about its membership."""

    assigned: float
    rebalances: float


@dataclass(frozen=True)
class Settle:
    settled_seconds: float
    longest_unowned_seconds: float
    rebalances: float  # counted by the members, from the change to OBSERVE_SECONDS after settling


def health(url: str) -> Health:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in ("crmkpi_partitions_assigned", "crmkpi_rebalances_total")
    }
    return Health(found["crmkpi_partitions_assigned"], found["crmkpi_rebalances_total"])


class Ownership:
    """Partitions owned by a set of workers, observed over time: the longest stretch
    in which none of them owned any. A worker not answering (yet) owns nothing."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.unowned_since: float | None = None
        self.longest_unowned = 0.0

    def owned(self) -> tuple[float, int]:
        """Partitions owned between them, and how many of them own some."""
        owned = [self._owned_by(url) for url in self.urls]
        now = time.monotonic()
        if sum(owned) == 0 and self.unowned_since is None:
            self.unowned_since = now
        if self.unowned_since is not None:
            self.longest_unowned = max(self.longest_unowned, now - self.unowned_since)
            if sum(owned):
                self.unowned_since = None
        return sum(owned), sum(1 for n in owned if n)

    @staticmethod
    def _owned_by(url: str) -> float:
        try:
            return health(url).assigned
        except OSError:
            return 0.0


def rebalances(urls: list[str]) -> float:
    return sum(health(url).rebalances for url in urls)


def produce_history(bootstrap: str, events: int, seed: int) -> threading.Thread:
    """A thread writing `events` simulated events to their topics, started."""
    records = workload.keyed(workload.simulated(events, seed), Topics())
    thread = threading.Thread(target=lambda: asyncio.run(workload.preload(bootstrap, records)))
    thread.start()
    return thread


def wait_owning(urls: list[str], total: int) -> Ownership:
    """Until every one of `urls` owns partitions, `total` between them; their ownership."""
    ownership = Ownership(urls)
    wait_until(
        ownership.owned,
        f"{len(urls)} workers owning {total} partitions, each some",
        lambda seen: seen == (total, len(urls)),
        poll=POLL_SECONDS,
    )
    return ownership


def timed(change: Callable[[], list[str]], members: list[str], total: int) -> Settle:
    """Make `change` to a group of `members` (it returns the members after it), then time
    until they own every partition, each some; their rebalances until OBSERVE_SECONDS later."""
    before = rebalances(members)
    changed_at = time.monotonic()
    members = change()
    ownership = wait_owning(members, total)
    settled = time.monotonic() - changed_at
    time.sleep(OBSERVE_SECONDS)  # the observation window for a storm, not a wait
    return Settle(settled, ownership.longest_unowned, rebalances(members) - before)


def run_once(logs: Path, run: int, events: int) -> tuple[Settle, Settle]:
    """The group settling after a SIGKILL, then after a new member joins, both under load."""
    total = len(Topics().sources) * PARTITIONS
    settings = {
        "CRMKPI_PARTITIONS": str(PARTITIONS),
        "CRMKPI_SESSION_TIMEOUT": SESSION_TIMEOUT_SECONDS,
    }
    with services.broker(logs) as bootstrap, ExitStack() as workers:

        def member(name: str, wait_ready: bool = True) -> str:
            url, pid = workers.enter_context(
                services.worker(
                    bootstrap, logs, f"run{run}-{name}", "bench-settle", wait_ready, **settings
                )
            )
            pids[url] = pid
            return url

        pids: dict[str, int] = {}
        members = [member(f"w{n}") for n in range(1, MEMBERS + 1)]
        wait_owning(members, total)
        victim = members[run % MEMBERS]
        survivors = [url for url in members if url != victim]

        def kill() -> list[str]:
            os.kill(pids[victim], signal.SIGKILL)
            return survivors

        def join() -> list[str]:
            return [*survivors, member("joining", wait_ready=False)]

        producer = produce_history(bootstrap, events, run)
        time.sleep(KILL_AFTER_SECONDS)  # the scenario: the kill lands while batches are applied
        killed = timed(kill, survivors, total)
        producer.join()
        producer = produce_history(bootstrap, events, 100 + run)
        time.sleep(KILL_AFTER_SECONDS)  # and the join too
        joined = timed(join, survivors, total)
        producer.join()
    return killed, joined


def report(change: str, results: list[Settle]) -> None:
    for run, result in enumerate(results, 1):
        print(
            f"{change} run {run}: settled {result.settled_seconds:.1f}s after it, none owning "
            f"for at most {result.longest_unowned_seconds:.1f}s, {result.rebalances:g} rebalances"
        )
    settled = [result.settled_seconds for result in results]
    print(f"{change}: settled median {statistics.median(settled):.1f}s, max {max(settled):.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=30_000, help="history going in at a change")
    parser.add_argument("--logs", type=Path, default=None, help="worker logs (default: a temp dir)")
    options = parser.parse_args()
    logs: Path = options.logs or Path(tempfile.mkdtemp(prefix="crmkpi-settle-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"logs in {logs}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    kills, joins = [], []
    for run in range(1, options.runs + 1):
        killed, joined = run_once(logs, run, options.events)
        kills.append(killed)
        joins.append(joined)
        print(f"run {run} done: {killed}, {joined}", flush=True)
    report("SIGKILL of 1 of 3", kills)
    report("a 3rd joining 2", joins)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
