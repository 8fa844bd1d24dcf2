"""Request authentication per source: valid accepted; wrong, missing, replayed refused."""

from __future__ import annotations

import hmac
import time

import pytest

from streams.http.ingest import signatures
from streams.http.ingest.errors import Unauthorized
from streams.http.ingest.signatures import SignedRequest
from streams.http.ingest.sources import SOURCES
from tests.ingest_signing import SECRETS, signed_headers

URL = "https://crmkpi.example.com/ingest/{source}"
BODY = b'[{"eventId": 1, "objectId": 5}]'
TIMESTAMPED = ("hubspot", "salesforce", "zendesk")


def request(source: str, headers: dict[str, str], now: float, body: bytes = BODY) -> SignedRequest:
    return SignedRequest("POST", URL.format(source=source), headers, body, now)


def verify(source: str, signed: SignedRequest) -> None:
    SOURCES[source].verify(signed, SECRETS[source])


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_valid_signature_is_accepted(source: str) -> None:
    now = time.time()
    verify(
        source, request(source, signed_headers(source, URL.format(source=source), BODY, now), now)
    )


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_signature_made_with_another_secret_is_refused(source: str) -> None:
    now = time.time()
    wrong = "user:wrong" if source == "pipedrive" else "not-the-secret"
    headers = signed_headers(source, URL.format(source=source), BODY, now, secret=wrong)
    with pytest.raises(Unauthorized, match="do not match"):
        verify(source, request(source, headers, now))


@pytest.mark.parametrize("source", TIMESTAMPED)  # bearer and Basic do not cover the body
def test_a_body_changed_after_signing_is_refused(source: str) -> None:
    now = time.time()
    headers = signed_headers(source, URL.format(source=source), BODY, now)
    with pytest.raises(Unauthorized):
        verify(source, request(source, headers, now, body=BODY.replace(b"5", b"6")))


@pytest.mark.parametrize("source", list(SOURCES))
def test_missing_credentials_are_refused(source: str) -> None:
    with pytest.raises(Unauthorized, match="missing"):
        verify(source, request(source, {}, time.time()))


@pytest.mark.parametrize("source", TIMESTAMPED)
@pytest.mark.parametrize("age", [301.0, -301.0, 86_400.0])
def test_a_replayed_or_skewed_timestamp_is_refused(source: str, age: float) -> None:
    now = time.time()
    headers = signed_headers(source, URL.format(source=source), BODY, now - age)
    with pytest.raises(Unauthorized, match="5 minutes"):
        verify(source, request(source, headers, now))


def test_hubspot_signs_the_uri_with_escaped_characters_decoded() -> None:
    now = time.time()
    called = "https://crmkpi.example.com/ingest/hubspot?portal=a%3Ab"
    headers = signed_headers(
        "hubspot", "https://crmkpi.example.com/ingest/hubspot?portal=a:b", BODY, now
    )
    signatures.hubspot_v3(SignedRequest("POST", called, headers, BODY, now), SECRETS["hubspot"])


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_compare_is_constant_time(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return original(given, expected)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)
    now = time.time()
    headers = signed_headers(source, URL.format(source=source), BODY, now, secret="wrong:one")
    with pytest.raises(Unauthorized):
        verify(source, request(source, headers, now))
    assert len(compared) == 1
