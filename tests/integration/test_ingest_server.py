"""Webhook ingest end to end: a running worker, the real broker, fixture webhooks in, KPIs out."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.ingest_fixtures import SOURCES, bodies, expected_events, expected_lines
from tests.ingest_http import comparable, deliver, landed, where_it_belongs
from tests.ingest_signing import SECRET_ENV
from tests.processes import get_json, wait_idle, worker
from tests.reference import Reference, compare_snapshot, compute_reference
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def server(broker: str, tmp_path: Path) -> Iterator[str]:
    """A worker with every source's secret set; yields its URL.

    Two partitions per topic: a worker's first batch recovers each touched partition.
    """
    with worker(broker, tmp_path, CRMKPI_PARTITIONS="2", **SECRET_ENV) as (url, _):
        yield url


def settled(url: str, reference: Reference) -> dict[str, Any]:
    """The snapshot once every accepted and rejected event of the reference was counted."""
    rejected = sum(reference.rejected.values())
    snapshot: dict[str, Any] = wait_until(
        lambda: wait_idle(url, accepted_at_least=reference.accepted),
        f"{rejected} rejections counted",
        lambda snapshot: sum(snapshot["events"]["rejected"].values()) >= rejected,
    )
    return snapshot


@pytest.mark.parametrize("source", SOURCES)
async def test_fixture_webhooks_land_keyed_on_their_topics_and_move_the_kpis(
    server: str, broker: str, source: str
) -> None:
    expected = expected_events(source)
    answers = [deliver(server, source, body) for _, body in bodies(source)]
    assert {status for status, _ in answers} == {202}
    assert sum(answer["events"] for _, answer in answers) == len(expected)
    records = await landed(broker, len(expected))
    assert sorted(map(comparable, records)) == sorted(
        comparable(where_it_belongs(e)) for e in expected
    )
    reference = compute_reference(expected_lines(source), now=datetime.now(UTC))
    assert reference.accepted > 0
    assert compare_snapshot(reference, settled(server, reference)) == []


async def test_every_webhook_delivered_five_times_changes_no_kpi(server: str) -> None:
    webhooks = [(source, body) for source in SOURCES for _, body in bodies(source)]
    lines = [line for source in SOURCES for line in expected_lines(source)]
    now = datetime.now(UTC)
    once = compute_reference(lines, now=now)
    for source, body in webhooks:
        assert deliver(server, source, body)[0] == 202
    first = settled(server, once)
    retries = [(source, body) for source, body in webhooks for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:  # CRM retries arrive concurrently, each re-signed
        statuses = list(pool.map(lambda retry: deliver(server, *retry)[0], retries))
    assert set(statuses) == {202}
    five_times = compute_reference(lines * 5, now=now)
    assert five_times.series == once.series  # the spec: duplicates change no KPI
    assert five_times.rejected["duplicate"] == once.rejected.get("duplicate", 0) + 4 * len(lines)
    again = settled(server, five_times)
    assert again["kpis"] == first["kpis"]
    assert compare_snapshot(five_times, again) == []
    assert get_json(f"{server}/healthz") == {"status": "ok"}
