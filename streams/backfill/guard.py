"""Before sending: a monitor that already holds later events would reject old history.

Events older than the grace period behind the monitor's watermark, about entities it no
longer holds, are `too_late` (KPIS.md, "State retention"): the backfill refuses to send
them, and says the order to follow, unless forced.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from kpis.events import format_time, to_micros
from kpis.retention import DAY_US
from streams.cli.snapshot import fetch_snapshot
from streams.config import Settings
from streams.errors import ConfigError, MonitorUnreachable


class TooLate(ConfigError):
    """The backfill holds events the monitor would reject as `too_late`."""


def watermark_us(url: str, settings: Settings, err: Console) -> int | None:
    """The monitor's watermark in µs; None when no monitor answers or it holds no event."""
    token = settings.read_token.get_secret_value() if settings.read_token else None
    try:
        document = fetch_snapshot(url, False, 0.0, err, token)
    except MonitorUnreachable as error:
        err.print(f"backfill: no watermark check ({error})")
        return None
    value = document.get("watermark")
    if not isinstance(value, str):
        return None
    return to_micros(datetime.fromisoformat(value.replace("Z", "+00:00")))


def check_not_too_late(times_us: list[int], watermark: int | None, grace_days: int) -> None:
    """`TooLate` when some events lie more than the grace period behind `watermark`."""
    if watermark is None or not times_us:
        return
    limit = watermark - grace_days * DAY_US
    late = sum(1 for at in times_us if at < limit)
    if late:
        raise TooLate(
            f"the monitor's watermark is {format_time(watermark)}: {late:,} events of this"
            f" backfill are older than {format_time(limit)} (grace period {grace_days} d,"
            " CRMKPI_GRACE_DAYS) and would be rejected as too_late. Backfill first, into a"
            " fresh monitor, then connect the webhooks; or pass --force to send anyway"
        )
