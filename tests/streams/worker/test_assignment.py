"""The worker's assignment: owned partitions, the reporter, one epoch of revocations."""

from __future__ import annotations

from streams.kafka.partitions import PartitionId
from streams.kafka.topics import Topics
from streams.worker.assignment import Assignment

CUSTOMERS_0 = PartitionId("crm.customers", 0)
CUSTOMERS_1 = PartitionId("crm.customers", 1)


def test_the_owner_of_the_first_customers_partition_reports() -> None:
    assignment = Assignment(Topics())
    assignment.assign([CUSTOMERS_1])
    assert not assignment.reporter
    assignment.assign([CUSTOMERS_0, CUSTOMERS_1])
    assert assignment.reporter
    assert assignment.rebalances == 2


def test_every_revocation_moves_the_epoch_and_drops_what_was_revoked() -> None:
    assignment = Assignment(Topics())
    assignment.assign([CUSTOMERS_0, CUSTOMERS_1])
    assignment.revoke([CUSTOMERS_0])
    assignment.revoke([])
    assert assignment.epoch == 2
    assert assignment.owned == {CUSTOMERS_1}
    assert not assignment.reporter
