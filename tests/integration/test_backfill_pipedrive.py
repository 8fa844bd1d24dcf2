"""Round trip: a simulated history as Pipedrive's deals, leads and activities exports,
backfilled into a fresh monitor, equals the reference of what they carry (tests/exports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.simulate import simulate_history
from tests.exports import pipedrive
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.reference import compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_pipedrive_exports_backfill_to_the_reference(broker: str, tmp_path: Path) -> None:
    events = [json.loads(line) for line in simulate_history(22, 20)]
    files = pipedrive.write_exports(events, tmp_path)
    carried = pipedrive.carried(events)
    reference = compute_reference(carried, now=datetime.now(UTC))
    with worker(broker, tmp_path) as (url, _):
        args = ["backfill", "--preset", "pipedrive", "--url", url, *map(str, files)]
        env = crmkpi_env(broker, 0)
        sent = run_crmkpi(args, env)
        assert sent.returncode == 0, sent.stderr
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        forced = run_crmkpi([*args, "--force"], env)  # the same history again: counts once
        assert forced.returncode == 0, forced.stderr
        again = wait_until(
            lambda: get_json(f"{url}/kpis"),
            "every event sent again rejected",
            lambda seen: sum(seen["events"]["rejected"].values()) >= reference.accepted,
        )
    assert compare_snapshot(reference, snapshot) == []
    assert "rejected 0" in sent.stdout
    assert again["events"]["accepted"] == snapshot["events"]["accepted"]
    assert (
        compare_snapshot(compute_reference(carried + carried, now=datetime.now(UTC)), again) == []
    )
