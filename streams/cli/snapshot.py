"""`crmkpi snapshot`: read /kpis from a running monitor, optionally once the lag is 0."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from kpis.catalogue import KPIS_BY_NAME
from kpis.units import USD, Currency
from streams.errors import MonitorNotIdle, MonitorUnreachable

POLL_SECONDS = 0.25


def _get(url: str, read_token: str | None = None) -> dict[str, Any]:
    request = urllib.request.Request(f"{url.rstrip('/')}/kpis")
    if read_token:  # a monitor whose reads need CRMKPI_READ_TOKEN
        request.add_header("Authorization", f"Bearer {read_token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            document: dict[str, Any] = orjson.loads(response.read())
            return document
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise MonitorUnreachable(
                f"the monitor at {url} refused the read (401): set CRMKPI_READ_TOKEN"
            ) from None
        raise MonitorUnreachable(f"the monitor at {url} answered {error.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise MonitorUnreachable(f"no monitor answers at {url}: {error}") from None


def fetch_snapshot(
    url: str, wait_idle: bool, timeout: float, err: Console, read_token: str | None = None
) -> dict[str, Any]:
    """The snapshot JSON; with `wait_idle`, the first one whose lag is 0.

    While waiting, a monitor that does not answer yet (still starting) is asked again.
    """
    if not wait_idle:
        return _get(url, read_token)
    deadline = time.monotonic() + timeout
    document: dict[str, Any] = {}
    with err.status("waiting for the consumer lag to reach 0") as status:
        while True:
            try:
                document = _get(url, read_token)
            except MonitorUnreachable as error:
                if time.monotonic() > deadline:
                    raise
                status.update(f"waiting for the monitor: {error}")
            else:
                if document.get("lag") == 0:
                    return document
                if time.monotonic() > deadline:
                    raise MonitorNotIdle(
                        f"lag still {document.get('lag')} after {timeout:.0f}s at {url}"
                    )
                status.update(
                    f"waiting for the consumer lag to reach 0 (lag {document.get('lag')})"
                )
            time.sleep(POLL_SECONDS)


def _format(kpi: str, value: float | None, currency: Currency) -> str:
    """The value as the table shows it: amounts with their currency and cents."""
    if value is None:
        return "null"
    known = KPIS_BY_NAME.get(kpi)
    money = known.display(currency).currency if known is not None else None
    if money is None:
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{'-' if value < 0 else ''}{money.prefix}{abs(value):,.2f}"


def print_snapshot(
    document: dict[str, Any], as_json: bool, out: Console, currency: Currency = USD
) -> None:
    """Print the snapshot as JSON or as a table of the overall series (amounts in
    `currency`)."""
    if as_json:
        out.print_json(orjson.dumps(document).decode())
        return
    events = document.get("events", {})
    out.print(
        f"watermark {document.get('watermark')}  lag {document.get('lag')}  "
        f"accepted {events.get('accepted')}  rejected {events.get('rejected')}"
    )
    table = Table("kpi", "window", "value")
    for series in document.get("kpis", []):
        if not series["labels"]:
            table.add_row(
                series["kpi"], series["window"], _format(series["kpi"], series["value"], currency)
            )
    out.print(table)
