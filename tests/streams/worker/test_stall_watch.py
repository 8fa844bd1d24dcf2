"""The stall watch: an owned partition lagging without progress is resumed and read again."""

from __future__ import annotations

from kpis.engine import PartitionState
from streams.kafka.partitions import PartitionId
from streams.worker.stall_watch import StallWatch
from tests.worker_fakes import LEADS_0, LEADS_1, FakeGroupConsumer, Worker, worker

STALL = 30.0


class FakeProbe:
    """End offsets by `topic:partition`; raises while `down`."""

    def __init__(self, ends: dict[PartitionId, int]) -> None:
        self.ends = {str(source): end for source, end in ends.items()}
        self.down = False

    async def end_offsets(self) -> dict[str, int]:
        if self.down:
            raise TimeoutError("no answer")
        return self.ends


def owning(offsets: dict[PartitionId, int]) -> Worker:
    """A worker owning partitions whose states are at `offsets`, assigned long ago."""
    found = worker()
    found.assignment.assign(offsets)
    found.assignment.changed_at = -1000.0
    for source, offset in offsets.items():
        found.processor.states[source] = PartitionState(offset=offset)
    return found


def watch(found: Worker, probe: FakeProbe) -> tuple[StallWatch, FakeGroupConsumer]:
    consumer = FakeGroupConsumer()
    stall = StallWatch(found.processor, found.assignment, consumer, probe, STALL)  # type: ignore[arg-type]
    return stall, consumer


async def test_a_partition_lagging_without_progress_is_resumed_and_read_from_its_state() -> None:
    found = owning({LEADS_0: 41, LEADS_1: 9})
    stall, consumer = watch(found, FakeProbe({LEADS_0: 100, LEADS_1: 10}))
    await stall.check(now=0.0)  # first sight: progress is watched from now
    await stall.check(now=STALL - 1)
    assert consumer.resumed == []
    await stall.check(now=STALL)
    assert consumer.resumed == [{LEADS_0}]  # LEADS_1 has read everything: not stalled
    assert consumer.seeks == [(LEADS_0, 42)]
    assert stall.resumed == 1
    await stall.check(now=STALL + 1)  # watched afresh after the resume
    assert consumer.resumed == [{LEADS_0}]


async def test_progress_restarts_the_clock() -> None:
    found = owning({LEADS_0: 41})
    stall, consumer = watch(found, FakeProbe({LEADS_0: 100}))
    await stall.check(now=0.0)
    found.processor.states[LEADS_0].offset = 60
    await stall.check(now=STALL)
    await stall.check(now=2 * STALL - 1)
    assert consumer.resumed == []
    await stall.check(now=2 * STALL)
    assert consumer.seeks == [(LEADS_0, 61)]


async def test_nothing_is_judged_while_the_group_settles_or_the_broker_is_down() -> None:
    found = owning({LEADS_0: 41})
    probe = FakeProbe({LEADS_0: 100})
    stall, consumer = watch(found, probe)
    await stall.check(now=0.0)
    found.assignment.changed_at = STALL  # a rebalance: watched afresh once it settles
    await stall.check(now=STALL + 1)
    await stall.check(now=2 * STALL + 1)
    await stall.check(now=3 * STALL)
    assert consumer.resumed == []
    probe.down = True
    await stall.check(now=10 * STALL)
    assert consumer.resumed == []


async def test_partitions_no_longer_owned_are_not_resumed() -> None:
    found = owning({LEADS_0: 41})
    stall, consumer = watch(found, FakeProbe({LEADS_0: 100}))
    await stall.check(now=0.0)
    found.assignment.owned = frozenset()
    await stall.check(now=STALL)
    assert consumer.resumed == []


def test_the_resumes_are_counted_for_metrics() -> None:
    stall, _ = watch(owning({}), FakeProbe({}))
    stall.resumed = 3
    (family,) = stall.collect()
    assert family.name == "crmkpi_partitions_resumed"
    assert family.samples[0].value == 3
