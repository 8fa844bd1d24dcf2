"""The worker's view for /metrics: what its partitions hold, exact at every view."""

from __future__ import annotations

from streams.worker.health import WorkerHealth
from tests.worker_fakes import LEADS_0, lead_created, records, worker


async def test_state_entries_are_exact_at_every_view_while_applying_and_idle() -> None:
    w = worker()
    health = WorkerHealth(w.store, None, w.assignment, w.processor)  # type: ignore[arg-type]
    for offset in range(3):
        await w.processor.process({LEADS_0: records([lead_created()], first_offset=offset)})
        assert w.processor.applying()
        entries = health.view().state_entries
        assert (entries["leads"], entries["event_ids"]) == (offset + 1, offset + 1)
    assert w.processor.last_flush is not None
    w.processor.last_flush -= 2  # nothing applied for 2 s: idle
    assert not w.processor.applying()
    assert health.view().state_entries["leads"] == 3
