"""Churn signals per customer: at-risk customers and their announcements match the spec."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams.simulate import simulate_history
from tests.processes import crmkpi_env, run_crmkpi, wait_idle, worker
from tests.waiting import wait_until_async

pytestmark = pytest.mark.integration
SLA_HOURS = {"urgent": 4, "high": 24, "normal": 48, "low": 72}  # the documented defaults


def when(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))


def expected_risks(lines: list[str]) -> dict[str, tuple[str, set[str]]]:
    """KPIS.md "Churn signals", computed from a history without rejected events."""
    events = [json.loads(line) for line in lines]
    watermark = max(when(e) for e in events)
    hour = 3600
    window_start_hour = int(watermark.timestamp()) // hour - 720 + 1
    start = datetime.fromtimestamp(window_start_hour * hour, tz=watermark.tzinfo)
    segment: dict[str, str] = {}
    churned: set[str] = set()
    tickets: dict[str, dict[str, object]] = {}
    signals: defaultdict[str, set[str]] = defaultdict(set)
    opened_in_window: defaultdict[str, int] = defaultdict(int)
    for e in events:
        kind, t = e["type"], when(e)
        if kind == "customer.subscribed":
            segment[e["customer_id"]] = e["segment"]
        elif kind == "customer.churned":
            churned.add(e["customer_id"])
        elif kind == "ticket.opened":
            tickets[e["ticket_id"]] = {
                "customer": e.get("customer_id"),
                "opened": t,
                "priority": e["priority"],
                "resolved": False,
            }
            if e.get("customer_id") and t >= start:
                opened_in_window[e["customer_id"]] += 1
        ticket = tickets.get(str(e.get("ticket_id")))
        customer = e.get("customer_id") or (ticket or {}).get("customer")
        if not customer:
            continue
        if kind == "survey.nps" and e["score"] <= 6 and t >= start:
            signals[customer].add("detractor_nps")
        if kind == "survey.csat" and e["score"] <= 2 and t >= start:
            signals[customer].add("low_csat")
        if kind == "ticket.reopened" and t >= start:
            signals[customer].add("reopened_ticket")
        if kind == "ticket.resolved" and ticket and not ticket["resolved"]:
            ticket["resolved"] = True
            took = t - ticket["opened"]
            if took > timedelta(hours=SLA_HOURS[ticket["priority"]]) and t >= start:
                signals[customer].add("slow_resolution")
    for customer, count in opened_in_window.items():
        if count >= 3:
            signals[customer].add("many_tickets")
    return {
        customer: (segment[customer], found)
        for customer, found in signals.items()
        if len(found) >= 2 and customer in segment and customer not in churned
    }


async def announcements(bootstrap: str) -> dict[str, dict[str, object]]:
    consumer = AIOKafkaConsumer(
        "crm.churn_signals", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    latest: dict[str, dict[str, object]] = {}
    try:
        for records in (await consumer.getmany(timeout_ms=3000)).values():
            for record in records:
                value = json.loads(record.value or b"{}")
                latest[str(value["customer_id"])] = value
    finally:
        await consumer.stop()
    return latest


async def test_at_risk_customers_are_reported_and_announced(broker: str, tmp_path: Path) -> None:
    lines = list(simulate_history(21, 45))
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    expected = expected_risks(lines)
    assert len(expected) >= 5  # the simulator makes unhappy customers
    with worker(broker, tmp_path) as (url, _):
        run_crmkpi(["produce", str(history)], crmkpi_env(broker, 0))
        snapshot = wait_idle(url, accepted_at_least=len(lines))
        risk = snapshot["churn_risk"]
        reported = {c["customer_id"]: (c["segment"], set(c["signals"])) for c in risk["customers"]}
        assert reported == expected
        by_segment: defaultdict[str, int] = defaultdict(int)
        for segment_of_customer, _ in expected.values():
            by_segment[segment_of_customer] += 1
        assert risk["at_risk_by_segment"] == dict(by_segment)
        announced = await wait_until_async(  # the announcer runs every second
            lambda: announcements(broker),
            f"the {len(expected)} customers at risk announced",
            lambda found: {c for c, value in found.items() if value["at_risk"]} == set(expected),
        )
    at_risk = {c for c, value in announced.items() if value["at_risk"]}
    assert at_risk == set(expected)
