"""Round trip: a simulated history as HubSpot and canonical CSV exports, backfilled into a
fresh monitor, equals the reference of what those exports carry (tests/exports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.config import Settings
from streams.kafka.broker import free_port
from streams.kafka.dead_letters import DeadLetter
from streams.simulate import simulate_history
from tests.exports import canonical, hubspot
from tests.integration.test_producer import _consume
from tests.processes import crmkpi_env, get_json, run_crmkpi, wait_idle, worker
from tests.reference import compare_snapshot, compute_reference

pytestmark = pytest.mark.integration


def test_hubspot_and_canonical_exports_backfill_to_the_reference(
    broker: str, tmp_path: Path
) -> None:
    events = [json.loads(line) for line in simulate_history(21, 20)]
    deals, contacts, tickets = hubspot.write_exports(events, tmp_path)
    canonical_files = canonical.write_exports(events, tmp_path)
    reference = compute_reference(
        hubspot.carried(events) + canonical.carried(events), now=datetime.now(UTC)
    )
    with worker(broker, tmp_path) as (url, _):
        env = crmkpi_env(broker, 0)
        files = [*map(str, [deals, contacts, tickets])]
        files += [f"canonical:{path}" for path in canonical_files]  # one history, two presets
        sent = run_crmkpi(["backfill", "--preset", "hubspot", "--url", url, *files], env)
        assert sent.returncode == 0, sent.stderr
        snapshot = wait_idle(url, accepted_at_least=reference.accepted)
        again = run_crmkpi(["backfill", "--preset", "hubspot", "--url", url, str(deals)], env)
        assert get_json(f"{url}/kpis")["events"] == snapshot["events"]
    assert compare_snapshot(reference, snapshot) == []
    assert "rejected 0" in sent.stdout
    assert again.returncode == 1
    assert "too_late" in again.stderr and "Backfill first, into a fresh monitor" in again.stderr


async def test_a_bad_row_is_dead_lettered_and_every_other_row_is_sent(
    broker: str, tmp_path: Path
) -> None:
    bad = '8,Appointment Scheduled,"12,5k",2026-03-03 10:00:00,'
    (tmp_path / "deals.csv").write_text(
        "Record ID,Deal Stage,Amount,Create Date,Close Date\n"
        "7,Closed Won,1200,2026-03-02 10:00:00,2026-03-20 16:30:00\n"
        f"{bad}\n"
        "9,Closed Lost,50,2026-03-01 09:00:00,2026-03-04 09:00:00\n"
    )
    no_monitor = f"http://127.0.0.1:{free_port()}"
    args = ["backfill", "--preset", "hubspot", "--url", no_monitor, str(tmp_path / "deals.csv")]
    result = run_crmkpi(args, crmkpi_env(broker, 0))
    assert result.returncode == 1
    assert 'deals.csv:3: Amount "12,5k" is not a number' in result.stderr
    assert "events sent 4; rejected 1 (schema 1)" in result.stdout
    settings = Settings(kafka_bootstrap=broker)
    sent = await _consume(settings, ["crm.opportunities"], 4)
    assert sorted(json.loads(record.value or b"")["type"] for record in sent) == [
        "opportunity.created",
        "opportunity.created",
        "opportunity.lost",
        "opportunity.won",
    ]
    [record] = await _consume(settings, ["crm.dlq"], 1)
    letter = DeadLetter.from_record(record.value, record.headers)
    assert (letter.value, letter.reason, letter.origin) == (bad.encode(), "schema", "backfill")
    assert letter.detail == 'deals.csv:3: Amount "12,5k" is not a number'
