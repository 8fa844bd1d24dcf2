"""Sending a review to the alerts' receivers: the Slack incoming webhook and SMTP.

The receivers are the thresholds file's `notify.slack` and `notify.email`, with the same
secret files as Alertmanager reads (the webhook URL, the SMTP password). A failed delivery
is tried again with exponential back-off, then counted as failed.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import orjson

from kpis.review.model import Review, with_customer_ids
from kpis.review.render import title, to_html, to_markdown
from kpis.review.slack import slack_message
from kpis.review.sparkline import sparklines
from kpis.thresholds import EmailReceiver, ThresholdsConfig
from streams.review import sent
from streams.secret_settings import read_secret_file

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0
CID_DOMAIN = "crmkpi.review"  # the right-hand side of the images' Content-IDs


@dataclass(frozen=True)
class Retries:
    """How often and how patiently a delivery is tried: delays double from `first_delay`."""

    attempts: int = 5
    first_delay: float = 2.0
    max_delay: float = 60.0


DEFAULT_RETRIES = Retries()


def post_slack(url: str, message: dict[str, object]) -> None:
    """POST the message to the incoming webhook; OSError unless it answers 2xx."""
    request = urllib.request.Request(
        url, orjson.dumps(message), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"Slack answered {response.status}")


def email_message(review: Review, config: ThresholdsConfig) -> EmailMessage:
    """Multipart/alternative: the markdown as plain text, then the HTML page; with trends,
    the page is multipart/related with each KPI's sparkline as an inline PNG (`cid:`)."""
    receiver = config.notify.email
    message = EmailMessage()
    message["Subject"] = title(review)
    message["From"] = receiver.sender
    message["To"] = receiver.to
    message.set_content(to_markdown(review, config.currency))
    images = sparklines(review)
    # Content-IDs unique to this message and short: a long one would be folded into
    # encoded words that no longer match the page's `cid:` references.
    token = secrets.token_hex(6)
    ids = {kpi: f"<spark{n}.{token}@{CID_DOMAIN}>" for n, kpi in enumerate(images)}
    sources = {kpi: f"cid:{cid[1:-1]}" for kpi, cid in ids.items()}
    message.add_alternative(to_html(review, config.currency, sources), subtype="html")
    page = list(message.iter_parts())[-1]  # the HTML alternative
    for kpi, png in images.items():
        page.add_related(
            png, "image", "png", cid=ids[kpi], disposition="inline", filename=f"{kpi}.png"
        )
    return message


def send_email(receiver: EmailReceiver, message: EmailMessage) -> None:
    """Hand the message to the smarthost (STARTTLS and login as the receiver says)."""
    host, _, port = receiver.smarthost.rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=TIMEOUT_SECONDS) as smtp:
        if receiver.require_tls:
            smtp.starttls()
        if receiver.auth_username and receiver.auth_password_file:
            path = Path(receiver.auth_password_file)
            smtp.login(receiver.auth_username, read_secret_file(path, "auth_password_file"))
        smtp.send_message(message)


def with_retries(
    channel: str,
    send: Callable[[], None],
    retries: Retries,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Try `send` until it succeeds or the attempts run out; count the outcome."""
    delay = retries.first_delay
    for attempt in range(1, retries.attempts + 1):
        try:
            send()
        except (OSError, smtplib.SMTPException) as error:
            log.warning("review to %s: attempt %d failed: %s", channel, attempt, error)
            if attempt < retries.attempts:
                sleep(delay)
                delay = min(delay * 2, retries.max_delay)
            continue
        sent.count(channel, True)
        return True
    sent.count(channel, False)
    return False


def deliver(
    review: Review,
    config: ThresholdsConfig,
    channels: tuple[str, ...] = sent.CHANNELS,
    retries: Retries = DEFAULT_RETRIES,
    sleep: Callable[[float], None] = time.sleep,
    customer_ids: tuple[str, ...] = (),
) -> dict[str, bool]:
    """Send the review to each channel; whether each one got it. The channels of
    `customer_ids` (internal ones) get the at-risk customers' ids, the others counts only."""
    slack = with_customer_ids(review, "slack" in customer_ids)
    email = with_customer_ids(review, "email" in customer_ids)
    senders: dict[str, Callable[[], None]] = {
        "slack": lambda: post_slack(
            read_secret_file(Path(config.notify.slack.api_url_file), "notify.slack.api_url_file"),
            slack_message(slack, config.currency, config.links),
        ),
        "email": lambda: send_email(config.notify.email, email_message(email, config)),
    }
    return {
        channel: with_retries(channel, senders[channel], retries, sleep) for channel in channels
    }
