"""The worker's view for /metrics: state entries counted fresh when idle, and at most every
`STATE_COUNT_SECONDS` while batches are applied."""

from __future__ import annotations

from streams.worker.health import STATE_COUNT_SECONDS, WorkerHealth
from tests.worker_fakes import LEADS_0, lead_created, records, worker


async def test_state_entries_are_recounted_when_idle_and_every_so_often_while_applying() -> None:
    w = worker()
    health = WorkerHealth(w.store, None, w.assignment, w.processor)  # type: ignore[arg-type]
    await w.processor.process({LEADS_0: records([lead_created()])})
    assert w.processor.applying()
    assert health.state_entries()["leads"] == 1
    await w.processor.process({LEADS_0: records([lead_created()], first_offset=1)})
    assert health.state_entries()["leads"] == 1  # applying: counted less than 10 s ago
    health.entries_counted_at -= STATE_COUNT_SECONDS
    assert health.state_entries()["leads"] == 2
    await w.processor.process({LEADS_0: records([lead_created()], first_offset=2)})
    assert w.processor.last_flush is not None
    w.processor.last_flush -= 2  # nothing applied for 2 s: idle
    assert not w.processor.applying()
    assert health.state_entries()["leads"] == 3
