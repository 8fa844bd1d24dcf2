"""A worker whose consumer left its partitions paused reads them again (the stall watch):
the KPIs end equal to the reference and the resume is counted."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.simulate import simulate_history
from tests.conftest import free_port, stop
from tests.paused_worker import PAUSED
from tests.processes import crmkpi_env, run_crmkpi, scrape, wait_idle, wait_until_ready
from tests.reference import compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_partitions_left_paused_are_resumed_and_every_kpi_ends_exact(
    broker: str, tmp_path: Path
) -> None:
    lines = list(simulate_history(5, 2))
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    port = free_port()
    env = crmkpi_env(broker, port)
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.paused_worker", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, process)
        wait_until(lambda: PAUSED in log.read_text(), "the worker to pause its partitions")
        produced = run_crmkpi(["produce", str(history)], env)
        assert produced.returncode == 0, produced.stderr
        reference = compute_reference(lines, now=datetime.now(UTC))
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        assert compare_snapshot(reference, snapshot) == []
        assert scrape(url)[("crmkpi_partitions_resumed_total", ())] >= 1
        assert "reading them again" in log.read_text()
    finally:
        stop(process, 20)
