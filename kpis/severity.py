"""How bad a crossed threshold is, ranked: info < warning < critical."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
"""Every severity, the least severe first."""


def rank(severity: Severity) -> int:
    """Higher is more severe."""
    return SEVERITIES.index(severity)


def worst(severities: Iterable[Severity]) -> Severity | None:
    """The most severe of `severities`; None for none."""
    return max(severities, key=rank, default=None)
