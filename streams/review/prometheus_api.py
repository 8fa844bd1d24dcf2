"""Prometheus' HTTP query API, as the review asks it (CRMKPI_PROMETHEUS_URL)."""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any

import orjson

from streams.errors import MonitorUnreachable

TIMEOUT_SECONDS = 10.0


def prometheus_result(prometheus_url: str, path: str, params: dict[str, str]) -> list[Any]:
    """The `data.result` of a query (`/api/v1/query`, `/api/v1/query_range`);
    MonitorUnreachable when Prometheus does not answer with one."""
    url = f"{prometheus_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            result = orjson.loads(response.read())["data"]["result"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MonitorUnreachable(f"Prometheus at {prometheus_url}: {error}") from None
    if not isinstance(result, list):
        raise MonitorUnreachable(f"Prometheus at {prometheus_url}: a result that is no list")
    return result
