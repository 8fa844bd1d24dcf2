"""How each CRM signs a request, written from the vendors' docs for the tests (not the code's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

SECRETS = {
    "canonical": "canonical-token-3f9a",
    "hubspot": "hubspot-client-secret-77aa",
    "salesforce": "salesforce-secret-1c2d",
    "pipedrive": "crmkpi:pipedrive-password-9e8f",
    "zendesk": "zendesk-signing-secret-5b6c",
}
SECRET_ENV = {
    "CRMKPI_INGEST_TOKEN": SECRETS["canonical"],
    "CRMKPI_HUBSPOT_CLIENT_SECRET": SECRETS["hubspot"],
    "CRMKPI_SALESFORCE_SECRET": SECRETS["salesforce"],
    "CRMKPI_PIPEDRIVE_BASIC_AUTH": SECRETS["pipedrive"],
    "CRMKPI_ZENDESK_SIGNING_SECRET": SECRETS["zendesk"],
}


def _b64_hmac(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signed_headers(
    source: str, url: str, body: bytes, at: float, secret: str | None = None
) -> dict[str, str]:
    """The headers `source` sends with `body` to `url` at time `at` (epoch seconds)."""
    key = SECRETS[source] if secret is None else secret
    millis = str(int(at * 1000))
    if source == "canonical":
        return {"Authorization": f"Bearer {key}"}
    if source == "pipedrive":
        return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}
    if source == "hubspot":
        signature = _b64_hmac(key, b"POST" + url.encode() + body + millis.encode())
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": millis}
    if source == "salesforce":
        signature = _b64_hmac(key, millis.encode() + body)
        return {"X-Salesforce-Signature": signature, "X-Salesforce-Timestamp": millis}
    stamp = datetime.fromtimestamp(int(at), UTC).isoformat().replace("+00:00", "Z")
    signature = _b64_hmac(key, stamp.encode() + body)
    return {
        "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
