"""Retrying with exponential back-off while the broker (or the store) is failing."""

from __future__ import annotations

import logging

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 10.0


def with_backoff(errors: tuple[type[BaseException], ...], doing: str) -> AsyncRetrying:
    """Attempts until one succeeds: each failure with one of `errors` is logged as `doing`,
    the next attempt waits twice as long (from 0.1 s up to 10 s); other errors propagate.

    Use as `async for attempt in with_backoff(...): with attempt: ...`; code before the
    `with` runs between attempts, and a `return` there gives up.
    """

    def log_retry(state: RetryCallState) -> None:
        sleep = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s, retrying in %.1fs: %s", doing, sleep, error)

    return AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential(multiplier=FIRST_BACKOFF_SECONDS, max=MAX_BACKOFF_SECONDS),
        before_sleep=log_retry,
        reraise=True,
    )
