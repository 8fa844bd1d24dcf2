"""(c) Memory of a partition's state per 100,000 open opportunities and per 100,000 open tickets."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable

import orjson

from kpis import checkpoint as cp
from kpis.engine import PartitionState

PER = 100_000


def _opportunity(n: int, occurred_at: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"bench-opp-{n}",
            "type": "opportunity.created",
            "occurred_at": occurred_at,
            "opportunity_id": f"opp-bench-{n}",
            "amount": 1000.0 + n % 5000,
            "stage": "proposal",
            "rep": f"rep-{n % 50 + 1:02d}",
            "team": ("emea", "amer", "apac")[n % 3],
            "channel": ("web", "paid_search", "email", "event", "referral")[n % 5],
        }
    )


def _ticket(n: int, occurred_at: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"bench-tkt-{n}",
            "type": "ticket.opened",
            "occurred_at": occurred_at,
            "ticket_id": f"tkt-bench-{n}",
            "customer_id": f"cust-bench-{n % 20_000}",
            "team": ("emea", "amer", "apac")[n % 3],
            "priority": ("low", "normal", "high", "urgent")[n % 4],
        }
    )


def state_bytes(make: Callable[[int, str], bytes], count: int) -> int:
    """Bytes a fresh partition state holds after `count` creations (event ids included)."""
    now_us = time.time_ns() // 1000
    occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_us // 1_000_000 - 3600))
    lines = [make(n, occurred_at) for n in range(count)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state = PartitionState()
        for line in lines:
            _, rejection = state.apply_raw(line, now_us)
            assert rejection is None, rejection
        cp.take_checkpoint(state)  # as after a batch: change tracking cleared
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(state.entities) == count
    return held


def measure(count: int = PER) -> dict[str, float]:
    """MiB per 100,000 open opportunities and per 100,000 open tickets (measured on `count`)."""
    scale = PER / count
    return {
        "opportunities_mib_per_100k": state_bytes(_opportunity, count) * scale / 2**20,
        "tickets_mib_per_100k": state_bytes(_ticket, count) * scale / 2**20,
    }
