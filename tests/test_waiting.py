"""The wait-until helper: returns what it waited for, fails naming it and the last value seen."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.waiting import WaitTimeout, wait_until, wait_until_async


def test_returns_the_first_observation_that_is_done() -> None:
    counter = itertools.count()
    assert wait_until(lambda: next(counter), "a count of 3", lambda n: n >= 3) == 3


def test_a_truthy_observation_is_done_by_default() -> None:
    answers = iter([None, [], ["ready"]])
    assert wait_until(lambda: next(answers), "an answer") == ["ready"]


def test_a_timeout_names_what_was_awaited_and_the_last_observation() -> None:
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: {"lag": 7}, "a lag of 0", lambda seen: seen["lag"] == 0, timeout=0.3)
    assert str(raised.value) == "waited 0.3s for a lag of 0; last observed: {'lag': 7}"
    assert isinstance(raised.value, AssertionError)


def test_ignored_errors_count_as_not_yet_and_show_as_the_last_observation() -> None:
    def refused() -> bool:
        raise ConnectionRefusedError("port 1")

    with pytest.raises(WaitTimeout, match=r"last observed: ConnectionRefusedError\('port 1'\)"):
        wait_until(refused, "a server", timeout=0.2, ignoring=(OSError,))
    answers: Iterator[Exception | str] = iter([ConnectionRefusedError("not yet"), "up"])

    def flaky() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(flaky, "a server", ignoring=(OSError,)) == "up"


def test_other_errors_end_the_wait_at_once() -> None:
    def exited() -> bool:
        raise RuntimeError("the worker exited with 1")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, "a worker", ignoring=(OSError,))


def test_a_long_observation_is_still_reported() -> None:
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: "x" * 2000, "nothing", lambda _: False, timeout=0)
    assert str(raised.value).endswith("x...")
    assert len(str(raised.value)) < 600


async def test_the_async_variant_awaits_each_observation() -> None:
    counter = itertools.count()

    async def count() -> int:
        return next(counter)

    assert await wait_until_async(count, "a count of 2", lambda n: n >= 2) == 2
    with pytest.raises(WaitTimeout, match=r"waited 0\.2s for a count of -1; last observed: "):
        await wait_until_async(count, "a count of -1", lambda n: n < 0, timeout=0.2)


def test_the_limit_is_scaled_by_crmkpi_test_wait_scale() -> None:
    read = "from tests.waiting import WAIT_SECONDS; print(WAIT_SECONDS)"
    env = {**os.environ, "CRMKPI_TEST_WAIT_SCALE": "2"}
    scaled = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True)
    env.pop("CRMKPI_TEST_WAIT_SCALE")
    default = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True)
    assert float(scaled.stdout) == 2 * float(default.stdout) > 0
