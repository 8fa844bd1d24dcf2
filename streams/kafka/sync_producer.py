"""`CrmProducer` for synchronous code: it runs on a private event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from streams.kafka.outcomes import Outcome, ProduceReport
from streams.kafka.producer import CrmProducer

T = TypeVar("T")


class SyncCrmProducer:
    """Starts `producer` (`ProducerError` if the broker is unreachable); `close` stops it."""

    def __init__(self, producer: CrmProducer) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="crmkpi-producer", daemon=True
        )
        self._thread.start()
        self._producer = producer
        try:
            self._run(self._producer.start())
        except BaseException:
            self._shutdown()
            raise

    def send_line(self, raw: bytes) -> Outcome:
        return self._run(self._producer.send_line(raw))

    def send_event(self, event: Mapping[str, object]) -> Outcome:
        return self._run(self._producer.send_event(event))

    def send_lines(
        self, lines: Iterable[bytes], progress: Callable[[int], None] | None = None
    ) -> ProduceReport:
        return self._run(self._producer.send_lines(lines, progress))

    def close(self) -> None:
        """Wait for pending deliveries, disconnect and stop the loop thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._producer.stop())
        finally:
            self._shutdown()

    def __enter__(self) -> SyncCrmProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, step: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(step, self._loop).result()

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
