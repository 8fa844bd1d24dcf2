"""`crmkpi review`: the week's or month's review from a running monitor's /kpis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from rich.console import Console

from kpis.review.model import Review, ReviewError, with_customer_ids
from kpis.review.render import to_html, to_json, to_markdown
from kpis.review.sparkline import data_uris, sparklines
from streams.cli.snapshot import fetch_snapshot
from streams.config import Settings
from streams.errors import ConfigError
from streams.review.build import review_with_prometheus
from streams.review.delivery import DEFAULT_RETRIES, Retries, deliver


@dataclass(frozen=True)
class ReviewRequest:
    """What `crmkpi review` was asked for."""

    period: str  # week, month
    form: str  # markdown, html, json
    url: str
    out_file: Path | None
    send: bool
    customer_ids: bool = False  # the preview shows the at-risk customers' ids


def rendered(review: Review, form: str, settings: Settings) -> str:
    """The review as `markdown`, `html` (sparklines as `data:` URIs) or `json`."""
    if form == "json":
        return orjson.dumps(to_json(review), option=orjson.OPT_INDENT_2).decode() + "\n"
    if form == "html":
        return to_html(review, settings.money(), data_uris(sparklines(review)))
    return to_markdown(review, settings.money())


def fetch_review(settings: Settings, url: str, period: str, err: Console) -> Review:
    """The review of `period` from the monitor at `url`."""
    token = settings.read_token  # CRMKPI_READ_TOKEN (or its file), when reads need it
    secret = token.get_secret_value() if token is not None else None
    document = fetch_snapshot(url, False, 0.0, err, secret)
    try:
        return review_with_prometheus(document, period, settings.prometheus_url)
    except ReviewError as error:
        raise ConfigError(f"{url}: {error}") from None


def run_review(
    settings: Settings,
    request: ReviewRequest,
    out: Console,
    err: Console,
    retries: Retries = DEFAULT_RETRIES,
) -> int:
    """Print or write the review; with `send`, deliver it. Exit status 1 if a channel failed."""
    review = fetch_review(settings, request.url, request.period, err)
    text = rendered(with_customer_ids(review, request.customer_ids), request.form, settings)
    if request.out_file is not None:
        request.out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {request.out_file}")
    elif not request.send:
        out.file.write(text)
    if not request.send:
        return 0
    internal = settings.review.customer_ids
    results = deliver(review, settings.thresholds(), retries=retries, customer_ids=internal)
    for channel, ok in results.items():
        err.print(f"{channel}: {'sent' if ok else 'failed after retries'}")
    return 0 if all(results.values()) else 1
