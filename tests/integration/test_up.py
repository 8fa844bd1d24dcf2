"""`crmkpi up --demo`: the whole monitor from one command, and a clean stop."""

from __future__ import annotations

import signal
import socket
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a listener
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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
    assert port_is_free(broker_port) and port_is_free(http_port)


def test_up_with_two_workers_splits_the_partitions_and_stops_both(
    tmp_path: Path, redis_url: str
) -> None:
    broker_port, http_port = free_port(), free_port()
    while not port_is_free(http_port + 1):
        http_port = free_port()
    env = crmkpi_env(f"127.0.0.1:{broker_port}", http_port)
    urls = [f"http://127.0.0.1:{port}" for port in (http_port, http_port + 1)]
    lines = list(simulate_history(3, 3))
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    command = ["up", "--workers", "2", "--redis", redis_url]
    with crmkpi_process(command, env, tmp_path / "up.log") as process:
        for url in urls:
            wait_until_ready(url, process, endpoint="/healthz")
        produced = run_crmkpi(["produce", str(history)], env)
        assert produced.returncode == 0, produced.stderr
        reference = compute_reference(lines, now=datetime.now(UTC))
        snapshot = wait_idle(urls[0], accepted_at_least=reference.accepted)
        assert compare_snapshot(reference, snapshot) == []
        owned = [scrape(url)[("crmkpi_partitions_assigned", ())] for url in urls]
        assert all(owned) and sum(owned) == SOURCE_PARTITIONS
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM)
    assert port_is_free(http_port) and port_is_free(http_port + 1)
