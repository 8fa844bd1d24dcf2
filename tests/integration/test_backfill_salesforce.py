"""Round trip: a simulated history as Salesforce Data Loader exports, backfilled into a
fresh monitor, equals the reference of what those exports carry (tests/exports); the same
exports sent again (`--force`: the oldest are behind the grace period) change nothing, their
ids being the same: each is a `duplicate` (or `too_late`, or again `invalid_transition`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.simulate import simulate_history
from tests.exports import salesforce
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.reference import compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _judged(snapshot: dict[str, Any]) -> int:
    events = snapshot["events"]
    return int(events["accepted"] + sum(events["rejected"].values()))


def test_salesforce_exports_backfill_to_the_reference_and_count_once(
    broker: str, tmp_path: Path
) -> None:
    events = [json.loads(line) for line in simulate_history(22, 20)]
    files = [str(path) for path in salesforce.write_exports(events, tmp_path)]
    reference = compute_reference(salesforce.carried(events), now=datetime.now(UTC))
    with worker(broker, tmp_path) as (url, _):
        env = crmkpi_env(broker, 0)
        args = ["backfill", "--preset", "salesforce", "--url", url, *files]
        sent = run_crmkpi(args, env)
        assert sent.returncode == 0, sent.stderr
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        again = run_crmkpi([*args, "--force"], env)
        assert again.returncode == 0, again.stderr
        judged_twice = 2 * _judged(snapshot)
        repeated = wait_until(
            lambda: get_json(f"{url}/kpis"),
            f"{url} judged every event twice",
            lambda now: _judged(now) >= judged_twice and now["lag"] == 0,
        )
    assert compare_snapshot(reference, snapshot) == []
    assert "rejected 0" in sent.stdout
    assert repeated["events"]["accepted"] == snapshot["events"]["accepted"]
    assert set(repeated["events"]["rejected"]) <= {"duplicate", "too_late", "invalid_transition"}
    assert _series(repeated) == _series(snapshot)


def _series(snapshot: dict[str, Any]) -> list[str]:
    return sorted(json.dumps(series, sort_keys=True) for series in snapshot["kpis"])
