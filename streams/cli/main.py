"""The `crmkpi` command line (INTERFACES.md): up, worker, produce, backfill, simulate, snapshot,
review."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from streams.config import Settings
from streams.errors import CrmkpiError

cli = typer.Typer(
    name="crmkpi",
    help="Streaming, real-time KPI monitor for CRM data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _settings(bootstrap: str | None = None, redis: str | None = None) -> Settings:
    overrides: dict[str, object] = {}
    if bootstrap:
        overrides["kafka_bootstrap"] = bootstrap
    if redis:
        overrides["redis_url"] = redis
    return Settings(**overrides)  # type: ignore[arg-type]


Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Kafka bootstrap HOST:PORT (no embedded broker).")
]
Redis = Annotated[str | None, typer.Option("--redis", help="Redis URL for the shared KPI store.")]


@cli.command()
def up(
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Load 90 days of simulated history, then live CRM traffic."),
    ] = False,
    bootstrap: Bootstrap = None,
    redis: Redis = None,
    rate: Annotated[
        float, typer.Option(help="Demo live events per second, after its history.")
    ] = 1.0,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes in one consumer group [default: without --redis, one per "
            "CPU, at most one per partition, sharing this process's store; with it, 1].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the whole monitor: embedded broker (unless --bootstrap), worker, HTTP server."""
    from streams.cli.up import run_up

    settings = _settings(bootstrap, redis)
    demo_rate = rate if demo else None
    raise typer.Exit(
        run_up(settings, embedded_broker=bootstrap is None, demo_rate=demo_rate, workers=workers)
    )


@cli.command()
def worker(bootstrap: Bootstrap = None, redis: Redis = None) -> None:
    """Run only the stream worker (start more to scale out), with its HTTP server."""
    from streams.cli.runner import run_worker

    settings = _settings(bootstrap, redis)
    out.print(
        f"worker: broker {settings.kafka_bootstrap}, http://{settings.http_host}:{settings.http_port}"
    )
    raise typer.Exit(run_worker(settings))


@cli.command()
def produce(
    file: Annotated[str, typer.Argument(help="JSONL file of canonical events, or - for stdin.")],
    bootstrap: Bootstrap = None,
) -> None:
    """Validate canonical events and send each to its topic; exit 1 if any was rejected."""
    from streams.cli.produce import produce_file

    settings = _settings(bootstrap)
    report = asyncio.run(produce_file(settings, file, out, err))
    raise typer.Exit(1 if report.rejected else 0)


@cli.command()
def backfill(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Export files: TABLE=FILE, or FILE named after its table (deals.csv);"
            " PRESET:FILE reads one with another preset (canonical:customers.csv)."
        ),
    ],
    preset: Annotated[
        str | None,
        typer.Option(help="The CRM's exports: hubspot, canonical, ... (docs/backfill.md)."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML file changing or defining the preset.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the events as JSON lines; send nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send even events the monitor would find too late.")
    ] = False,
    url: Annotated[
        str, typer.Option(help="Monitor whose watermark is checked first.")
    ] = "http://127.0.0.1:8000",
    bootstrap: Bootstrap = None,
) -> None:
    """Send a CRM's history from its export files; exit 1 if any row or event was rejected."""
    from streams.cli.backfill import Request, run_backfill

    request = Request(files, preset, mapping, dry_run, force, url)
    raise typer.Exit(asyncio.run(run_backfill(_settings(bootstrap), request, out, err)))


@cli.command()
def simulate(
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same history.")] = 1,
    days: Annotated[int, typer.Option(help="Days of history.")] = 30,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write JSONL here.")] = None,
    anomalies: Annotated[bool, typer.Option(help="Add duplicates, late and bad events.")] = False,
    scale: Annotated[float, typer.Option(help="Volume multiplier.")] = 1.0,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="First day (UTC) of the history [default: 2026-01-05]; pick one so that "
            "the history ends before today: later events are rejected as future_timestamp.",
        ),
    ] = None,
    live: Annotated[bool, typer.Option(help="Send live traffic to the broker instead.")] = False,
    rate: Annotated[float, typer.Option(help="Live events per second.")] = 1.0,
    history_days: Annotated[
        int, typer.Option(min=0, help="With --live: first send this many days of history.")
    ] = 0,
    bootstrap: Bootstrap = None,
) -> None:
    """A realistic CRM event history (JSONL), or live traffic with --live."""
    from streams.cli.simulate import simulate_history_to, simulate_live

    if live:
        try:
            asyncio.run(simulate_live(_settings(bootstrap), seed, rate, history_days, err))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    else:
        first_day = start.replace(tzinfo=UTC) if start is not None else None
        simulate_history_to(out_file, seed, days, anomalies, scale, err, first_day)


@cli.command()
def snapshot(
    url: Annotated[str, typer.Option(help="Monitor URL.")] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
    wait_idle: Annotated[
        bool, typer.Option("--wait-idle", help="First wait until the consumer lag is 0.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait-idle.")] = 120.0,
) -> None:
    """Current KPIs from a running monitor."""
    from streams.cli.snapshot import fetch_snapshot, print_snapshot

    settings = Settings()
    token = settings.read_token  # CRMKPI_READ_TOKEN (or its file), when reads need it
    secret = token.get_secret_value() if token is not None else None
    document = fetch_snapshot(url, wait_idle, timeout, err, secret)
    print_snapshot(document, as_json, out, settings.money())


@cli.command()
def review(
    period: Annotated[str, typer.Option(help="week (7d vs prev_7d) or month (30d vs prev_30d).")],
    form: Annotated[
        str, typer.Option("--format", help="markdown, html (a page to open) or json.")
    ] = "markdown",
    url: Annotated[str, typer.Option(help="Monitor URL.")] = "http://127.0.0.1:8000",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write it here.")] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Deliver it to the alerts' Slack and email receivers.")
    ] = False,
    customer_ids: Annotated[
        bool,
        typer.Option(
            "--customer-ids",
            help="Show the at-risk customers' ids (the output only; --send follows "
            "review.customer_ids).",
        ),
    ] = False,
) -> None:
    """The KPI review of the week or month just ended, from a running monitor."""
    from kpis.review.model import PERIODS
    from kpis.review.render import FORMATS
    from streams.cli.review import ReviewRequest, run_review

    if period not in PERIODS:
        raise typer.BadParameter(f"one of {', '.join(PERIODS)}", param_hint="--period")
    if form not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    request = ReviewRequest(period, form, url, out_file, send, customer_ids)
    raise typer.Exit(run_review(Settings(), request, out, err))


@cli.command()
def rules(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the deploy/ files go.")] = Path(
        "deploy"
    ),
    dashboards_dir: Annotated[
        Path, typer.Option("--dashboards", help="Where the Grafana dashboards go.")
    ] = Path("grafana/dashboards"),
    check_secrets: Annotated[
        bool,
        typer.Option(
            "--check-secrets",
            help="Write nothing; fail unless the Slack URL and SMTP password files are filled.",
        ),
    ] = False,
) -> None:
    """Write Prometheus rules, their tests, the Alertmanager config and the Grafana dashboards."""
    from streams.cli import rules as command

    if check_secrets:
        command.check_secrets(Settings(), out)
        return
    command.write_rules(Settings(), out_dir, out, dashboards_dir)


def _problems(error: ValidationError) -> list[str]:
    """One line per problem; a setting's names its variable (`CRMKPI_CURRENCY: ...`)."""
    if error.title != Settings.__name__:
        return [f"{type(error).__name__}: {error}"]
    return [
        "CRMKPI_"
        + "_".join(map(str, problem["loc"])).upper()
        + ": "
        + problem["msg"].removeprefix("Value error, ")
        for problem in error.errors()
    ]


def main() -> None:
    """Entry point: errors are one line on stderr, not a traceback."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # we report connection errors
    try:
        status = cli(standalone_mode=False)  # returns the code of a typer.Exit
        sys.exit(status if isinstance(status, int) else 0)
    except typer.Exit as stop:
        sys.exit(stop.exit_code)
    except (CrmkpiError, OSError) as error:
        err.print(f"crmkpi: error: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except ValidationError as error:
        for line in _problems(error):
            err.print(f"crmkpi: error: {line}")
        sys.exit(1)
    except Exception as error:
        show = getattr(error, "show", None)
        if callable(show):  # a usage error: click prints it with a hint
            show()
            sys.exit(getattr(error, "exit_code", 2))
        err.print(f"crmkpi: error: {type(error).__name__}: {error}")
        sys.exit(1)
