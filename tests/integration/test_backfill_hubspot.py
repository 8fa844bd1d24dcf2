"""Round trip: a simulated history as HubSpot and canonical CSV exports, backfilled into a
fresh monitor, equals the reference of what those exports carry (tests/exports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.simulate import simulate_history
from tests.exports import canonical, hubspot
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.reference import compare_snapshot, compute_reference

pytestmark = pytest.mark.integration


def test_hubspot_and_canonical_exports_backfill_to_the_reference(
    broker: str, tmp_path: Path
) -> None:
    events = [json.loads(line) for line in simulate_history(21, 20)]
    deals, contacts, tickets = hubspot.write_exports(events, tmp_path)
    surveys_and_spend = canonical.write_exports(events, tmp_path)
    reference = compute_reference(
        hubspot.carried(events) + canonical.carried(events), now=datetime.now(UTC)
    )
    with worker(broker, tmp_path) as (url, _):
        env = crmkpi_env(broker, 0)
        first = [
            "backfill",
            "--preset",
            "hubspot",
            "--url",
            url,
            *map(str, [deals, contacts, tickets]),
        ]
        sent = run_crmkpi(first, env)
        assert sent.returncode == 0, sent.stderr
        then = ["backfill", "--preset", "canonical", "--url", url, *map(str, surveys_and_spend)]
        sent_too = run_crmkpi(then, env)
        assert sent_too.returncode == 0, sent_too.stderr
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        again = run_crmkpi(first, env)  # history older than the grace period behind the watermark
        assert get_json(f"{url}/kpis")["events"] == snapshot["events"]
    assert compare_snapshot(reference, snapshot) == []
    assert "rejected 0" in sent.stdout and "rejected 0" in sent_too.stdout
    assert again.returncode == 1
    assert "too_late" in again.stderr and "Backfill first, into a fresh monitor" in again.stderr
