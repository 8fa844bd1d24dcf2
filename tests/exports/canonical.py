"""The canonical CSV files: customers.csv, renewals.csv, csat.csv, nps.csv, spend.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.exports import as_label

COLUMNS = {  # renewals and csat without event ids (the backfill derives them), the others with
    "customer.renewed": ("renewals", ["customer_id", "occurred_at", "mrr"]),
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
CUSTOMER_COLUMNS = ["customer_id", "segment", "channel", "mrr", "subscribed_at", "churned_at"]
CUSTOMER_COLUMNS += ["churn_reason"]
CUSTOMER_EVENTS = ("customer.subscribed", "customer.churned")


def write_exports(events: list[dict[str, object]], directory: Path) -> list[Path]:
    """A row per customer in customers.csv; one CSV per other kind, a row per event."""
    paths = [_write_customers(events, directory / "customers.csv")]
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


def _write_customers(events: list[dict[str, object]], path: Path) -> Path:
    customers: dict[object, dict[str, object]] = {}
    for event in events:
        if event["type"] == "customer.subscribed":
            customers[event["customer_id"]] = {**event, "subscribed_at": event["occurred_at"]}
        elif event["type"] == "customer.churned":
            customer = customers[event["customer_id"]]
            customer.update(churned_at=event["occurred_at"], churn_reason=event.get("reason", ""))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CUSTOMER_COLUMNS)
        for customer in customers.values():
            writer.writerow([customer.get(column, "") for column in CUSTOMER_COLUMNS])
    return path


def carried(events: list[dict[str, object]]) -> list[str]:
    """Every customer, survey and spend event: the canonical CSV carries all of their fields."""
    kept = []
    for event in events:
        if event["type"] in COLUMNS or event["type"] in CUSTOMER_EVENTS:
            kept.append(
                json.dumps(
                    {
                        key: as_label(str(value)) if key in DIMENSIONS else value
                        for key, value in event.items()
                    }
                )
            )
    return kept
