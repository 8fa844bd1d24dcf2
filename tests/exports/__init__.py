"""Writers of CRM export files from canonical events, one module per CRM (round-trip tests).

Each module has `write_exports(events, directory)` (the files a CRM's export gives, with its
documented headers) and `carried(events)` (the canonical events those files still carry,
as JSON lines in log order): the reference a backfill of the files must equal.
"""

from __future__ import annotations

import re
from datetime import datetime

_NOT_LABEL = re.compile(r"[^a-z0-9]+")


def as_label(value: str) -> str:
    """A dimension value as the backfill labels it: lower case, runs of other
    characters as one `_` (`rep-13` -> `rep_13`)."""
    return _NOT_LABEL.sub("_", value.lower()).strip("_")


def export_time(occurred_at: str) -> str:
    """An RFC 3339 UTC time as exports write it: `2026-01-05 09:30:00` (UTC)."""
    moment = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def log_rank(kind: str) -> int:
    """Within one second an entity opens before it changes and changes before it closes."""
    step = kind.rpartition(".")[2]
    return (
        0
        if step in ("created", "opened")
        else 2
        if step in ("won", "lost", "converted", "resolved")
        else 1
    )
