"""Request authentication per source, as each CRM documents it; every compare is constant-time.

Each verifier takes the request as signed and the source's secret, and raises
`Unauthorized` with the reason; signed timestamps older (or newer) than five
minutes are refused so that a captured request cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from streams.http.ingest.errors import Mismatch, Unauthorized

MAX_AGE_SECONDS = 300.0  # HubSpot: "reject the request if the timestamp is older than 5 minutes"
# HubSpot signs the URI with these percent-escapes decoded (its v3 signature docs).
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: method, full URL as the CRM called it, headers, raw body, time."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    now: float  # wall clock, seconds since the epoch


Verifier = Callable[[SignedRequest, str], None]


def hubspot_v3(request: SignedRequest, client_secret: str) -> None:
    """`X-HubSpot-Signature-v3`: base64 HMAC-SHA256 of method + URI + body + timestamp (ms)."""
    timestamp = _header(request, "X-HubSpot-Request-Timestamp")
    _check_fresh(_epoch_millis(timestamp, "X-HubSpot-Request-Timestamp") / 1000, request.now)
    uri = request.url
    for escaped, character in _HUBSPOT_DECODED.items():
        uri = uri.replace(escaped, character).replace(escaped.lower(), character)
    signed = request.method.encode() + uri.encode() + request.body + timestamp.encode()
    _check_digest(_header(request, "X-HubSpot-Signature-v3"), _hmac_base64(client_secret, signed))


def salesforce(request: SignedRequest, secret: str) -> None:
    """`X-Salesforce-Signature`: base64 HMAC-SHA256 of `X-Salesforce-Timestamp` (ms) + body.

    Salesforce has no push webhook of its own for Change Data Capture: the relay that
    forwards change events (Apex callout, Pub/Sub API client, middleware) signs them so.
    """
    timestamp = _header(request, "X-Salesforce-Timestamp")
    _check_fresh(_epoch_millis(timestamp, "X-Salesforce-Timestamp") / 1000, request.now)
    expected = _hmac_base64(secret, timestamp.encode() + request.body)
    _check_digest(_header(request, "X-Salesforce-Signature"), expected)


def zendesk(request: SignedRequest, signing_secret: str) -> None:
    """`X-Zendesk-Webhook-Signature`: base64 HMAC-SHA256 of the ISO timestamp header + body."""
    timestamp = _header(request, "X-Zendesk-Webhook-Signature-Timestamp")
    try:
        signed = datetime.fromisoformat(timestamp)
    except ValueError:
        signed = None
    if signed is None or signed.tzinfo is None:
        raise Unauthorized(
            f"X-Zendesk-Webhook-Signature-Timestamp: expected an ISO 8601 time in UTC, "
            f"got {timestamp[:40]!r}"
        )
    signed_at = signed.timestamp()
    _check_fresh(signed_at, request.now)
    expected = _hmac_base64(signing_secret, timestamp.encode() + request.body)
    _check_digest(_header(request, "X-Zendesk-Webhook-Signature"), expected)


def basic_auth(request: SignedRequest, user_password: str) -> None:
    """HTTP Basic `user:password` (Pipedrive webhooks' only authentication)."""
    scheme, _, credentials = _header(request, "Authorization").partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized("Authorization: expected Basic credentials")
    try:
        given = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("Authorization: malformed Basic credentials") from None
    _check_digest(given, user_password.encode())


def bearer(request: SignedRequest, token: str) -> None:
    """`Authorization: Bearer <token>` (the canonical endpoint, for scripts and pipelines)."""
    scheme, _, given = _header(request, "Authorization").partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization: expected a Bearer token")
    _check_digest(given.strip(), token)


def _header(request: SignedRequest, name: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise Unauthorized(f"missing {name} header")
    return value


def _epoch_millis(value: str, name: str) -> float:
    if not (value.isascii() and value.isdigit()) or len(value) > 16:  # not `²`: float fails
        raise Unauthorized(f"{name}: expected epoch milliseconds, got {value[:40]!r}")
    return float(value)


def _check_fresh(signed_at: float, now: float) -> None:
    if abs(now - signed_at) > MAX_AGE_SECONDS:
        raise Unauthorized("signature timestamp is more than 5 minutes away from now (replay?)")


def _hmac_base64(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _check_digest(given: str | bytes, expected: str | bytes) -> None:
    given_bytes = given.encode(errors="replace") if isinstance(given, str) else given
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    if not hmac.compare_digest(given_bytes, expected_bytes):
        raise Mismatch("signature or credentials do not match")
