"""How much the worker takes from the broker at once, which also tells live traffic from a
backlog: a lag one fetch takes is live traffic in flight."""

FETCH_RECORDS = 50_000  # records per fetch: each batch costs a checkpoint write and a commit
# bench.catchup, 1,080 days, one worker, 3 runs each (2026-12-02): 43-47k events/s at
# 10,000, 53-56k at 25,000, 43-50k at 40,000. Two workers sharing up's store (2026-12-06,
# 4 runs each, interleaved): 0.42-0.47 of a plain consumer at 25,000, 0.46-0.58 at 50,000
# (median 0.52); one worker the same at both (0.26, 0.27).
FETCH_PARTITION_BYTES = 4 * 1024**2
"""Bytes of one partition a fetch brings at most (Faust's default: 1 MiB, about 6,000 events).
Near the end of a catch-up only a few partitions still have records, and each brought that
little made a batch, with its checkpoints and commit, of 10-20 thousand records. bench.catchup,
1,080 days, 2 workers (2026-12-06, 3 runs): 13-15 batches instead of 19-21."""
PARTITION_BACKLOG_RECORDS = 2_000
"""Records of one partition waiting at the broker past a batch that make it a backlog being
caught up, not live traffic in flight (a partition takes a few hundred events a second at
the rates `python -m bench` runs live)."""


def backlogged(lag: int | None) -> bool:
    """Whether more records wait than one fetch takes, or the lag is unknown."""
    return lag is None or lag > FETCH_RECORDS
