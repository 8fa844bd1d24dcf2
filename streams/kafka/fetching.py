"""How much the worker takes from the broker at once, which also tells live traffic from a
backlog: a lag one fetch takes is live traffic in flight."""

FETCH_RECORDS = 25_000  # records per fetch: each batch costs a checkpoint write and a commit
# bench.catchup, 1,080 days, 3 runs each: 43-47k events/s at 10,000, 53-56k at 25,000,
# 43-50k at 40,000 (whose /kpis reads while catching up were slower).


def backlogged(lag: int | None) -> bool:
    """Whether more records wait than one fetch takes, or the lag is unknown."""
    return lag is None or lag > FETCH_RECORDS
