"""Parts listed by their bucket, so that a moving window finds the parts entering or
leaving it without visiting every part."""

from __future__ import annotations

from kpis.ledger import PartKey

BucketIndex = dict[int, set[PartKey]]


def list_part(index: BucketIndex, bucket: int, key: PartKey, held: bool) -> None:
    """List a part under its bucket while `held`, or take it out; a bucket goes with its
    last part."""
    if held:
        index.setdefault(bucket, set()).add(key)
        return
    keys = index[bucket]
    keys.discard(key)
    if not keys:
        del index[bucket]
