"""Round trip: a simulated history as Zendesk exports (tickets CSV with metrics, satisfaction
ratings JSON), backfilled into a fresh monitor, equals the reference of what they carry."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.simulate import simulate_history
from tests.exports import zendesk
from tests.processes import crmkpi_env, run_crmkpi, wait_idle, worker
from tests.reference import compare_snapshot, compute_reference

pytestmark = pytest.mark.integration


def test_zendesk_exports_backfill_to_the_reference(broker: str, tmp_path: Path) -> None:
    events = [json.loads(line) for line in simulate_history(23, 20)]
    tickets, ratings = zendesk.write_exports(events, tmp_path)
    carried = zendesk.carried(events)
    reference = compute_reference(carried, now=datetime.now(UTC))
    kinds = {json.loads(line)["type"] for line in carried}
    assert {"ticket.reopened", "ticket.replied", "survey.csat"} <= kinds
    with worker(broker, tmp_path) as (url, _):
        args = ["backfill", "--preset", "zendesk", "--url", url, str(tickets), str(ratings)]
        sent = run_crmkpi(args, crmkpi_env(broker, 0))
        assert sent.returncode == 0, sent.stderr
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
    assert compare_snapshot(reference, snapshot) == []
    assert "rejected 0" in sent.stdout
    first_contact = reference.value("first_contact_resolution_rate", "30d")
    assert isinstance(first_contact, float) and 0 < first_contact < 1  # replies and reopens read
