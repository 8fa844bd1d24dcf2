"""Deterministic, realistic CRM event simulation: a history for a seed, or live traffic.

`simulate_history` writes days of canonical events (EVENTS.md) as JSON lines;
`live_events` sends a recent history, then the same company's events on the wall
clock. Both can mix in every anomaly kind the monitor must reject or absorb
(`Anomalies`).
"""

from streams.simulate.anomalies import NO_ANOMALIES, Anomalies
from streams.simulate.history import DEFAULT_START, simulate_history
from streams.simulate.live import HISTORY_SCALE, live_events

__all__ = [
    "DEFAULT_START",
    "HISTORY_SCALE",
    "NO_ANOMALIES",
    "Anomalies",
    "live_events",
    "simulate_history",
]
