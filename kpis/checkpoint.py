"""What changed in a partition's state, as one record written atomically with its offset.

A checkpoint carries absolute values (not deltas) of everything a batch
changed and the last source offset it covers, or, when `full`, the whole
state at that offset (a snapshot). A change checkpoint names the offset its
writer's previous checkpoint covered (`since`): it applies only to a state
at or past that offset, so a state is always exactly the one of its offset.
Restoring the checkpoints of a partition in log order from a writer's
snapshot, skipping any whose offset is not past the state's, rebuilds the
state exactly, even when two owners wrote during a rebalance: the state ends
at least at the last checkpoint's offset, and the source is read on from there.
Entities and ids a worker has forgotten (`kpis.retention`) may come back from
older checkpoints: they are judged forgotten all the same, and pruned again.

Entity keys and event ids travel as their digests (`kpis.digests`); those of
checkpoints written before digests are digested when restored (their ids are
in `legacy_ids`). Checkpoints written before the grace period (bare ids,
entities without the time of their latest event) are restored as if that time
were the checkpoint's watermark: they are held for at least `G` after it.

Offsets count in one incarnation of the logs: a broker that lost its data
(a memory-only broker restarted) starts the offsets again from 0 on a new,
later incarnation. A checkpoint names the incarnation its state was built
in, and only checkpoints of the incarnation being restored are applied: a
worker that wrote on after the loss cannot carry the lost history over.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from msgspec import Struct

from kpis.digests import DigestTable, digest
from kpis.engine import PartitionState
from kpis.entities import Entity
from kpis.ledger import Ledger, PartKey
from kpis.retention import IdRecord, id_record


class Checkpoint(Struct, array_like=True):
    """A partition's changes up to and including source `offset`."""

    offset: int
    watermark_us: int | None
    entities: dict[int | str, Entity]  # by digest (by key before digests)
    # ids as written before digests: (id, (time, entity key, born)), or bare before `G`
    legacy_ids: Sequence[tuple[str, tuple[int, str, int]] | str]
    parts: list[tuple[str, str, int, int, int]]
    incarnation: int
    full: bool = False  # the whole state, not the changes since `since`
    since: int = -1  # the source offset the writer's previous checkpoint covered
    base: int = -1  # checkpoint-log offset of the writer's latest snapshot (-1: unknown)
    event_ids: Sequence[IdRecord] = ()  # each new (or, when `full`, each held) id


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Checkpoint] = msgspec.msgpack.Decoder(Checkpoint)


def take_checkpoint(
    state: PartitionState,
    since: int = -1,
    base: int = -1,
    parts_changed: list[tuple[PartKey, int]] | None = None,
) -> Checkpoint:
    """The changes since the previous checkpoint (which covered offset `since`, with the
    writer's latest snapshot at checkpoint-log offset `base`); clears the change tracking.
    `parts_changed`: the ledger's changes when the caller took them already."""
    entities: dict[int | str, Entity] = {key: state.entities[key] for key in state.changed_entities}
    if parts_changed is None:
        parts_changed = state.ledger.take_changes()
    parts = [(*key, value) for key, value in parts_changed]
    checkpoint = Checkpoint(
        state.offset,
        state.ledger.watermark_us,
        entities,
        (),
        parts,
        state.incarnation,
        since=since,
        base=base,
        event_ids=state.new_event_ids,
    )
    state.changed_entities = set()
    state.new_event_ids = []
    return checkpoint


def take_snapshot(state: PartitionState) -> Checkpoint:
    """The whole state (a full checkpoint); clears the change tracking."""
    state.ledger.take_changes()
    checkpoint = Checkpoint(
        state.offset,
        state.ledger.watermark_us,
        dict(state.entities.items()),
        (),
        [(*key, value) for key, value in state.ledger.values.items()],
        state.incarnation,
        full=True,
        event_ids=_held_ids(state),
    )
    state.changed_entities = set()
    state.new_event_ids = []
    return checkpoint


def restore(state: PartitionState, checkpoint: Checkpoint) -> bool:
    """Apply a checkpoint of the state's incarnation unless the state already covers its
    offset, or (changes) does not reach the offset they follow; True when applied."""
    if checkpoint.incarnation != state.incarnation or checkpoint.offset <= state.offset:
        return False
    if checkpoint.full:
        state.entities = DigestTable()
        state.event_ids = DigestTable()
        state.ledger = Ledger(state.ledger.zone)
    elif checkpoint.since > state.offset:
        return False  # a gap: the changes before them are in a checkpoint not applied
    legacy_us = checkpoint.watermark_us or 0  # held for `G` after the checkpoint, at least
    for key, entity in checkpoint.entities.items():
        entity.last_us = entity.last_us or legacy_us
        _restore_entity(state, digest(key) if isinstance(key, str) else key, entity)
    for event_id, key, born in [*checkpoint.event_ids, *_digested(checkpoint, legacy_us)]:
        owner = state.entities.get(key) if key else born
        if owner is not None and (isinstance(owner, int) or owner.born_us == born):
            state.event_ids[event_id] = owner
        # else: about an entity since created again, so neither held nor ever again
    state.ledger.restore(((k0, k1, k2, k3), value) for k0, k1, k2, k3, value in checkpoint.parts)
    if checkpoint.watermark_us is not None:
        state.ledger.advance_watermark(checkpoint.watermark_us)
    state.offset = checkpoint.offset
    return True


def _held_ids(state: PartitionState) -> list[IdRecord]:
    """The ids in memory, as records; those of an entity since created again (never held
    again) are left out."""
    keys = {id(entity): key for key, entity in state.entities.items()}
    records = []
    for event_id, owner in state.event_ids.items():
        key = 0 if isinstance(owner, int) else keys.get(id(owner))
        if key is not None:
            records.append(id_record(event_id, key, owner))
    return records


def _restore_entity(state: PartitionState, key: int, entity: Entity) -> None:
    """Hold `entity` under `key`, updating the one held in place if it is the same entity
    (same kind and birth): its ids keep it as their owner (`kpis.retention.IdOwner`)."""
    held = state.entities.get(key)
    if held is None or type(held) is not type(entity) or held.born_us != entity.born_us:
        state.entities[key] = entity
        return
    for name in entity.__struct_fields__:
        setattr(held, name, getattr(entity, name))


def _digested(checkpoint: Checkpoint, legacy_us: int) -> list[IdRecord]:
    """The ids of a checkpoint written before digests, as records."""
    records = []
    for item in checkpoint.legacy_ids:
        event_id, (occurred_us, key, born) = (
            (item, (legacy_us, "", 0)) if isinstance(item, str) else item
        )
        records.append((digest(event_id), digest(key) if key else 0, born if key else occurred_us))
    return records


def encode(checkpoint: Checkpoint) -> bytes:
    return _encoder.encode(checkpoint)


def decode(raw: bytes) -> Checkpoint:
    return _decoder.decode(raw)
