"""`crmkpi` whose worker leaves every partition paused once it owns some (run as
`python -m tests.paused_worker worker`): the state Faust can leave partitions in after
quick successive rebalances, for the stall watch's test."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP

import streams.cli.runner
from streams.app import Runtime, create_app
from streams.cli.main import main

PAUSED = "paused every partition"


def create_paused_app(*args: Any, **kwargs: Any) -> tuple[faust.App, Runtime]:
    app, runtime = create_app(*args, **kwargs)
    paused: list[bool] = []

    @app.timer(0.5)  # type: ignore[untyped-decorator]
    async def pause_once() -> None:
        if not paused and runtime.assignment.owned:
            owned = {TP(source.topic, source.partition) for source in runtime.assignment.owned}
            app.consumer.pause_partitions(owned)
            paused.append(True)
            print(PAUSED, flush=True)

    return app, runtime


if __name__ == "__main__":
    streams.cli.runner.create_app = create_paused_app  # type: ignore[assignment]
    main()
