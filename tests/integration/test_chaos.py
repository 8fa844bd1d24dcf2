"""Chaos: workers of one group SIGKILLed and restarted at random while a history goes in.

After the lag reaches 0, every KPI in every live worker's /kpis equals the
reference computed from the raw events, and every /metrics series summed
across the live workers gives the reference too: the part families through
the KPI each feeds, the histogram bucket by bucket, the event counts as they are.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kpis.catalogue import CATALOGUE, KPIS_BY_NAME
from streams.config import Settings
from streams.kafka.topics import Topics
from streams.simulate import Anomalies, simulate_history
from tests.processes import (
    GroupMember,
    WorkerGroup,
    crmkpi_env,
    get_json,
    run_crmkpi,
    scrape,
    wait_idle,
    wait_serving,
)
from tests.reference import (
    HISTOGRAM_LE,
    Reference,
    compare_rejected,
    compare_snapshot,
    compute_reference,
)
from tests.waiting import WAIT_SECONDS, WaitTimeout, wait_until

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Sum = Callable[[str], float]
SEED = 31
DAYS = 58  # about 101,000 events
KILLS = 6
CHUNKS = KILLS + 1  # a kill between every two chunks
SOURCE_PARTITIONS = len(Topics().sources) * Settings().partitions


def _ratio(numerator: str, denominator: str, scale: float = 1.0) -> Callable[[Sum], float | None]:
    return lambda s: s(numerator) / s(denominator) / scale if s(denominator) else None


WON, LOST = "crmkpi_opportunities_won", "crmkpi_opportunities_lost"
SPEND, RESOLVED = "crmkpi_marketing_spend_amount", "crmkpi_ticket_resolution_seconds_count"
NPS = ("crmkpi_nps_promoters", "crmkpi_nps_detractors", "crmkpi_nps_responses")
# Each KPI from the summed part families alone, as the recording rules compute it.
FROM_PARTS: dict[str, Callable[[Sum], float | None]] = {
    "csat": _ratio("crmkpi_csat_satisfied_responses", "crmkpi_csat_responses"),
    "lead_conversion_rate": _ratio("crmkpi_leads_created_converted", "crmkpi_leads_created"),
    "marketing_conversion_rate": _ratio("crmkpi_leads_created_qualified", "crmkpi_leads_created"),
    "opportunity_creation_ratio": _ratio(
        "crmkpi_opportunities_created", "crmkpi_leads_first_contacted"
    ),
    "sales_cycle_days": _ratio("crmkpi_opportunities_won_cycle_seconds", WON, 86400),
    "resolution_time_hours": _ratio("crmkpi_ticket_resolution_seconds_sum", RESOLVED, 3600),
    "first_contact_resolution_rate": _ratio("crmkpi_tickets_first_contact_resolved", RESOLVED),
    "customer_acquisition_cost": _ratio(SPEND, "crmkpi_customers_subscribed"),
    "churn_rate": _ratio("crmkpi_customers_churned_in_window", "crmkpi_customers_at_window_start"),
    "win_rate": lambda s: s(WON) / (s(WON) + s(LOST)) if s(WON) + s(LOST) else None,
    "nps": lambda s: 100 * (s(NPS[0]) - s(NPS[1])) / s(NPS[2]) if s(NPS[2]) else None,
    "marketing_roi": lambda s: (
        (s("crmkpi_opportunities_won_amount") - s(SPEND)) / s(SPEND) if s(SPEND) else None
    ),
    "rep_activities": lambda s: s("crmkpi_activities_logged"),
    "won_amount": lambda s: s("crmkpi_rep_won_amount"),
    "open_pipeline_value": lambda s: s("crmkpi_open_pipeline_amount"),
    "active_customers": lambda s: s("crmkpi_customers_active"),
    "mrr": lambda s: s("crmkpi_mrr_amount"),
}


def summed(urls: list[str]) -> Samples:
    """Every /metrics sample summed across workers (what `sum without (instance)` gives)."""
    total: Samples = {}
    for url in urls:
        for key, value in scrape(url).items():
            total[key] = total.get(key, 0.0) + value
    return total


def _close(expected: float | None, got: float | None) -> bool:
    if expected is None or got is None:
        return expected == got
    return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-6)


def _sum_of(samples: Samples, window: str, labels: tuple[tuple[str, str], ...]) -> Sum:
    def total(name: str) -> float:
        found = 0.0
        for (sample_name, sample_labels), value in samples.items():
            present = dict(sample_labels)
            if sample_name != name or present.get("window", window) != window:
                continue
            if all(present.get(key) == wanted for key, wanted in labels):
                found += value
        return found

    return total


def metrics_problems(reference: Reference, samples: Samples) -> list[str]:
    """Mismatches between metrics summed across workers and the reference; [] when equal."""
    problems = []
    accepted = samples.get(("crmkpi_events_accepted_total", ()))
    if accepted != reference.accepted:
        problems.append(f"accepted: expected {reference.accepted}, got {accepted}")
    rejected = {
        dict(labels)["reason"]: value
        for (name, labels), value in samples.items()
        if name == "crmkpi_events_rejected_total"
    }
    problems += compare_rejected(reference, rejected)
    for (kpi, window, labels), expected in reference.series.items():
        if kpi in FROM_PARTS:
            got = FROM_PARTS[kpi](_sum_of(samples, window, labels))
            if not _close(expected, got):
                problems.append(f"{kpi} {window} {labels} from parts: {got}, expected {expected}")
        metric = KPIS_BY_NAME[kpi].metric
        dimension = KPIS_BY_NAME[kpi].dimension
        value_labels = (*labels, *(((dimension, ""),) if not labels else ()), ("window", window))
        got_value = samples.get((metric, tuple(sorted(value_labels))))
        if not _close(expected, got_value) and not (expected == 0 and got_value is None):
            problems.append(f"{metric} {window} {labels}: {got_value}, expected {expected}")
    for (window, labels), buckets in reference.resolution_histogram.items():
        for le_hours, count in buckets.items():
            le = "+Inf" if le_hours == "+Inf" else str(int(le_hours) * 3600)
            bucket = _sum_of(samples, window, (*labels, ("le", le)))
            if bucket("crmkpi_ticket_resolution_seconds_bucket") != count:
                problems.append(f"resolution bucket {window} {labels} le={le}: expected {count}")
    assert set(HISTOGRAM_LE) >= {le for b in reference.resolution_histogram.values() for le in b}
    return problems


@dataclass(frozen=True)
class Membership:
    """What a member's /metrics says of its place in the group. When a wait on the group
    runs out, the rebalance counts tell a slow group from a rebalance storm."""

    partitions: float
    rebalances: float
    reporting: bool  # the reporter is known by its KPI series


def membership(members: list[GroupMember]) -> dict[str, Membership]:
    """The membership of each member that answers, by name."""
    found = {}
    for member in members:
        try:
            samples = scrape(member.url)
        except OSError:
            continue
        found[member.name] = Membership(
            samples.get(("crmkpi_partitions_assigned", ()), 0),
            samples.get(("crmkpi_rebalances_total", ()), 0),
            any(name == "crmkpi_csat_ratio" for name, _ in samples),
        )
    return found


def print_ownership(members: list[GroupMember]) -> None:
    """What each live member owns and which partitions lag, for a failed test's report."""
    for name, seen in membership(members).items():
        print(f"{name}: owns {seen.partitions:g} partitions after {seen.rebalances:g} rebalances")
    for member in members:
        lagging = {
            dict(labels)["partition"]: value
            for (name, labels), value in scrape(member.url).items()
            if name == "crmkpi_consumer_lag_records" and value
        }
        print(f"{member.name}: its partitions lagging: {lagging}")


def wait_settled(
    members: list[GroupMember], partitions: int = SOURCE_PARTITIONS, reporting: bool = True
) -> None:
    """Until the live members own every source partition between them and one reports
    (unless `reporting`: before any event, none does)."""

    def settled(seen: dict[str, Membership]) -> bool:
        owned = sum(member.partitions for member in seen.values())
        reporters = sum(member.reporting for member in seen.values())
        return len(seen) == len(members) and (owned, reporters) == (partitions, int(reporting))

    wait_until(
        lambda: membership(members),
        f"the group settled: {partitions} partitions owned, {int(reporting)} reporting",
        settled,
    )


def pick_owner(members: list[GroupMember], rng: random.Random) -> tuple[GroupMember, int]:
    """A random member that owns partitions (waiting for one), and the accepted count it shows."""
    seen = wait_until(
        lambda: membership(members),
        "a member owning a partition",
        lambda seen: any(member.partitions for member in seen.values()),
    )
    victim = rng.choice([m for m in members if m.name in seen and seen[m.name].partitions])
    accepted: int = get_json(f"{victim.url}/kpis")["events"]["accepted"]
    return victim, accepted


def produce_in_chunks(
    bootstrap: str, chunks: list[Path], after_chunk: Callable[[int], object], reports: list[str]
) -> None:
    """Produce each chunk, calling `after_chunk(index)` before the next one."""
    for index, chunk in enumerate(chunks):
        result = run_crmkpi(["produce", str(chunk)], crmkpi_env(bootstrap, 0))
        reports.append(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "")
        print(time.strftime("%X"), reports[-1], result.stderr[-300:])
        after_chunk(index)


def test_random_sigkills_and_restarts_leave_every_kpi_and_metric_exact(
    broker: str, redis_url: str, tmp_path: Path
) -> None:
    lines = list(simulate_history(SEED, DAYS, anomalies=Anomalies.default()))
    assert len(lines) >= 100_000
    reference = compute_reference(lines, now=datetime.now(UTC))
    size = math.ceil(len(lines) / CHUNKS)
    chunks = []
    for index in range(CHUNKS):
        chunk = tmp_path / f"chunk-{index}.jsonl"
        chunk.write_text("\n".join(lines[index * size : (index + 1) * size]) + "\n")
        chunks.append(chunk)
    rng = random.Random(SEED)
    with WorkerGroup(broker, redis_url, tmp_path) as group:
        group.start()
        group.start(wait_ready=False)
        reports: list[str] = []
        kills = [threading.Event() for _ in range(KILLS)]

        def wait_for_kill(index: int) -> None:
            """Every kill happens with at least one chunk still to come: mid-stream."""
            if index < KILLS:
                kills[index].wait(timeout=WAIT_SECONDS)

        producer = threading.Thread(
            target=produce_in_chunks, args=(broker, chunks, wait_for_kill, reports)
        )
        producer.start()
        mid_stream_kills = 0
        try:
            for killed in kills:
                time.sleep(rng.uniform(0.5, 3.0))  # the scenario: kills at random moments
                victim, accepted = pick_owner(group.members, rng)
                group.kill(victim)
                killed.set()
                mid_stream_kills += accepted < reference.accepted
                print(f"{time.strftime('%X')} killed {victim.name} at {accepted} accepted")
                while len(group.members) < 2 or (len(group.members) < 3 and rng.random() < 0.3):
                    group.start(wait_ready=False)
        finally:
            producer.join()
        assert mid_stream_kills >= 5
        for member in group.members:
            wait_serving(member.url, member.process)
        first = group.members[0].url
        try:
            wait_idle(first, accepted_at_least=reference.accepted)
        except WaitTimeout:
            print_ownership(group.members)
            raise
        wait_settled(group.members)
        wait_idle(first)
        for member in group.members:
            assert compare_snapshot(reference, get_json(f"{member.url}/kpis")) == [], member.name
        assert metrics_problems(reference, summed([m.url for m in group.members])) == []
    assert {kpi.name for kpi in CATALOGUE} <= {key[0] for key in reference.series}
