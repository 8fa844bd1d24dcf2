"""Which store a worker publishes to and reads from."""

from __future__ import annotations

from streams.config import Settings
from streams.read.redis_store import RedisStore
from streams.read.relay_store import RelayStore
from streams.read.store import MemoryStore, Store


def open_store(settings: Settings) -> Store:
    """Redis when a URL is configured; else the store of the `crmkpi up` that started this
    worker, when it relays one; else the in-process store."""
    if settings.redis_url is not None:
        return RedisStore(settings.redis_url.get_secret_value())
    if settings.store_relay is not None:
        return RelayStore(settings.store_relay)
    return MemoryStore()
