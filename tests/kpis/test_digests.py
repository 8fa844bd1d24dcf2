"""`kpis.digests`: stable 64-bit digests and the table that holds them without an object each."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from xxhash import xxh3_64_intdigest

from kpis.digests import MIN_SLOTS, DigestTable, digest


def test_a_digest_is_xxh3_64_of_the_utf8_key_and_never_changes() -> None:
    """Checkpoints carry digests: a restart, or an upgrade, must digest a key the same way."""
    assert digest("evt-1") == xxh3_64_intdigest(b"evt-1") == 0x517F7D200D98F32F
    assert digest("é") == 0xF7940A006CF10CB3
    assert digest("evt-1") != digest("evt-2")


def test_keys_that_probe_the_same_slots_are_all_found() -> None:
    table: DigestTable[str] = DigestTable()
    crowded = [n * MIN_SLOTS + 6 for n in range(1, 6)]  # all start at slot 6 of 8, and wrap
    for key in crowded:
        table[key] = f"v{key}"
    assert [table.get(key) for key in crowded] == [f"v{key}" for key in crowded]
    assert table.get(6) is None and len(table) == 5


def test_setting_a_held_key_replaces_its_value() -> None:
    table: DigestTable[int] = DigestTable([(7, 1)])
    table[7] = 2
    assert (table[7], len(table)) == (2, 1)


def test_the_table_grows_and_stays_between_a_quarter_and_three_quarters_full() -> None:
    table: DigestTable[int] = DigestTable()
    fullness = []
    for key in range(1, 10_001):
        table[key] = key
        fullness.append(len(table) / table.slots())
    assert len(table) == 10_000
    assert all(table[key] == key for key in range(1, 10_001))
    assert all(0.25 <= full <= 0.75 for full in fullness[MIN_SLOTS:])
    assert min(fullness[MIN_SLOTS:]) < 0.26  # grown to a quarter full


def test_retain_keeps_the_accepted_entries_and_shrinks_the_table() -> None:
    table: DigestTable[int] = DigestTable((key, key) for key in range(1, 1_001))
    table.retain(lambda key, value: key % 10 == 0 and value > 500)
    assert dict(table.items()) == {key: key for key in range(510, 1_001, 10)}
    assert table.slots() == 2 * len(table)


@given(
    st.lists(
        st.tuples(st.sampled_from(["set", "retain"]), st.integers(1, 2**64 - 1), st.integers())
    )
)
def test_the_table_behaves_as_a_dict(operations: list[tuple[str, int, int]]) -> None:
    table: DigestTable[int] = DigestTable()
    model: dict[int, int] = {}
    for operation, key, value in operations:
        if operation == "set":
            table[key], model[key] = value, value
        else:  # keep the entries whose value has the parity of `value`
            table.retain(lambda _, held, parity=value % 2: held % 2 == parity)
            model = {k: v for k, v in model.items() if v % 2 == value % 2}
        assert len(table) == len(model)
    assert dict(table.items()) == model
    assert sorted(table.values()) == sorted(model.values())
    assert all(table.get(key) == held for key, held in model.items())


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "set", "retain"]),
            st.integers(1, 40),  # few keys: values are often replaced, by another type too
            st.one_of(st.integers(), st.text(max_size=2), st.booleans()),
        )
    )
)
def test_the_count_by_type_follows_adds_replacements_and_retains(
    operations: list[tuple[str, int, object]],
) -> None:
    table: DigestTable[object] = DigestTable()
    model: dict[int, object] = {}
    for operation, key, value in operations:
        if operation == "set":
            table[key], model[key] = value, value
        else:  # keep the entries of the value's type
            kind = type(value)
            table.retain(lambda _, held, kind=kind: type(held) is kind)  # type: ignore[misc]
            model = {k: v for k, v in model.items() if type(v) is kind}
        assert table.count_by_type() == Counter(map(type, model.values()))
