"""`crmkpi up --demo`: the whole monitor from one command, and a clean stop."""

from __future__ import annotations

import os
import signal
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kpis.metric_names import EVENTS_ACCEPTED
from streams.cli.up import default_workers
from streams.config import Settings
from streams.kafka.broker import port_in_use
from streams.simulate import simulate_history
from tests.conftest import free_port
from tests.integration.test_chaos import SOURCE_PARTITIONS
from tests.processes import (
    crmkpi_env,
    crmkpi_process,
    get_json,
    run_crmkpi,
    scrape,
    wait_idle,
    wait_until_ready,
)
from tests.reference import compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
THREE = ("open_pipeline_value", "csat", "rep_activities")
SLIDING = ("now", "1h", "24h", "7d", "30d")  # a demo's first minute has no previous period


def free(port: int) -> bool:
    return not port_in_use("127.0.0.1", port)


def values_of_three(url: str) -> dict[tuple[str, str], float | None]:
    snapshot = get_json(f"{url}/kpis")
    return {
        (s["kpi"], s["window"]): s["value"]
        for s in snapshot["kpis"]
        if s["kpi"] in THREE and not s["labels"] and s["window"] in SLIDING
    }


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_up_demo_shows_the_kpis_within_30s_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    broker_port, http_port = free_port(), free_port()
    env = crmkpi_env(f"127.0.0.1:{broker_port}", http_port)
    url = f"http://127.0.0.1:{http_port}"
    log = tmp_path / "up.log"
    with crmkpi_process(["up", "--demo", "--rate", "200"], env, log) as process:
        wait_until(
            lambda: values_of_three(url),
            "the 9 values of the three KPIs",
            lambda values: len(values) == 9 and all(v is not None for v in values.values()),
            timeout=30,  # what the test promises: the demo shows them within 30 s
            ignoring=(OSError,),
        )
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        for family in ("crmkpi_open_pipeline_value", "crmkpi_csat_ratio", "crmkpi_rep_activities"):
            assert f"\n{family}{{" in metrics
        process.send_signal(stop_signal)
        assert process.wait(30) in (0, 130, -stop_signal)
    output = log.read_text()
    assert "Traceback" not in output, output
    assert "crmkpi is ready" in output
    assert free(broker_port) and free(http_port)


@pytest.mark.parametrize("store", ["relay", "redis"])
def test_up_with_two_workers_splits_the_partitions_and_stops_both(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """Without Redis the second worker publishes to and reads from the first's in-process
    store (`streams.read.relay_store`); either way both answer the exact KPIs."""
    broker_port, http_port = free_port(), free_port()
    while not free(http_port + 1):
        http_port = free_port()
    env = crmkpi_env(f"127.0.0.1:{broker_port}", http_port)
    urls = [f"http://127.0.0.1:{port}" for port in (http_port, http_port + 1)]
    lines = list(simulate_history(3, 3))
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    command = ["up", "--workers", "2"]
    if store == "redis":
        command += ["--redis", request.getfixturevalue("redis_url")]
    with crmkpi_process(command, env, tmp_path / "up.log") as process:
        for url in urls:
            wait_until_ready(url, process, endpoint="/healthz")
        produced = run_crmkpi(["produce", str(history)], env)
        assert produced.returncode == 0, produced.stderr
        reference = compute_reference(lines, now=datetime.now(UTC))
        for url in urls:
            snapshot = wait_idle(url, accepted_at_least=reference.accepted)
            assert compare_snapshot(reference, snapshot) == []
        scraped = [scrape(url) for url in urls]
        owned = [samples[("crmkpi_partitions_assigned", ())] for samples in scraped]
        assert all(owned) and sum(owned) == SOURCE_PARTITIONS
        if store == "relay":  # scraped as one: `up`'s own process exports every partition
            counted = f"{EVENTS_ACCEPTED}_total"
            accepted = sum(v for (name, _), v in scraped[0].items() if name == counted)
            assert accepted == reference.accepted
            assert any(name == "crmkpi_csat_ratio" for name, _ in scraped[0])
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM)
    assert free(http_port) and free(http_port + 1)
    log = (tmp_path / "up.log").read_text()
    assert "Traceback" not in log
    assert "store unreachable" not in log  # the second stopped before the store it uses


def test_the_other_workers_of_up_die_with_it(tmp_path: Path) -> None:
    """A SIGKILLed `crmkpi up` leaves no worker behind holding partitions."""
    broker_port, http_port = free_port(), free_port()
    while not free(http_port + 1):
        http_port = free_port()
    env = crmkpi_env(f"127.0.0.1:{broker_port}", http_port)
    second = f"http://127.0.0.1:{http_port + 1}"
    with crmkpi_process(["up", "--workers", "2"], env, tmp_path / "up.log") as process:
        wait_until_ready(second, process, endpoint="/healthz")
        process.kill()
        process.wait(30)
        wait_until(lambda: free(http_port + 1), "the second worker gone", timeout=30)


def test_up_runs_a_worker_per_cpu_and_no_more_than_partitions_unless_on_redis() -> None:
    """On Redis every worker is scraped apart: `up` alone runs one, the others are started
    (and scraped) as `crmkpi worker`s."""
    cpus = len(os.sched_getaffinity(0))
    assert default_workers(Settings(partitions=64)) == min(cpus, 64)
    assert default_workers(Settings(partitions=1)) == 1
    on_redis = Settings(partitions=64, redis_url="redis://127.0.0.1:6379/0")
    assert default_workers(on_redis) == 1
