"""The canonical CSV files of survey responses and spend: csat.csv, nps.csv, spend.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.exports import as_label

COLUMNS = {  # csat without event ids (the backfill derives them), nps and spend with them
    "survey.csat": (
        "csat",
        ["response_id", "occurred_at", "score", "team", "customer_id", "ticket_id"],
    ),
    "survey.nps": (
        "nps",
        ["event_id", "response_id", "occurred_at", "score", "segment", "customer_id"],
    ),
    "marketing.spend": (
        "spend",
        ["event_id", "spend_id", "occurred_at", "channel", "amount", "campaign_id"],
    ),
}
DIMENSIONS = ("team", "segment", "channel")


def write_exports(events: list[dict[str, object]], directory: Path) -> list[Path]:
    """One CSV per kind, a row per response or spend record, every field as a column."""
    paths = []
    for kind, (name, columns) in COLUMNS.items():
        path = directory / f"{name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for event in events:
                if event["type"] == kind:
                    writer.writerow([event.get(column, "") for column in columns])
        paths.append(path)
    return paths


def carried(events: list[dict[str, object]]) -> list[str]:
    """Every survey and spend event: the canonical CSV carries all of their fields."""
    kept = []
    for event in events:
        if event["type"] in COLUMNS:
            kept.append(
                json.dumps(
                    {
                        key: as_label(str(value)) if key in DIMENSIONS else value
                        for key, value in event.items()
                    }
                )
            )
    return kept
