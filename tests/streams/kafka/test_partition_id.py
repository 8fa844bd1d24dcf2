"""PartitionId: the `topic:partition` name partitions are stored under, and back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.partitions import PartitionId


def test_a_partition_is_named_topic_colon_partition() -> None:
    assert str(PartitionId("crm.leads", 3)) == "crm.leads:3"


@given(st.text(min_size=1), st.integers(min_value=0, max_value=2**31 - 1))
def test_a_partition_parses_back_from_its_name(topic: str, partition: int) -> None:
    assert PartitionId.parse(str(PartitionId(topic, partition))) == PartitionId(topic, partition)
