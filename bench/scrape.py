"""(d) `/metrics` and `/kpis` response times of a worker holding a full catalogue of series."""

from __future__ import annotations

import statistics
import time
import urllib.request


def response_ms(url: str, requests: int) -> dict[str, float]:
    """Median and worst time of `requests` sequential GETs (the body read in full), in ms."""
    times = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            size = len(response.read())
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "bytes": size}
