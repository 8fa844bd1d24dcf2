"""Why an ingest request is refused: each maps to one HTTP status."""

from __future__ import annotations


class IngestError(Exception):
    """A refused request; `status` is its HTTP status and the message its one-line reason;
    `outcome` its label on `crmkpi_ingest_requests_total`."""

    status = 400
    outcome = "bad_payload"


class BadPayload(IngestError):
    """The body is not what the source sends (400): the message names the problem."""

    status = 400


class Unauthorized(IngestError):
    """Missing, wrong or stale credentials, or a source with no secret configured (401)."""

    status = 401
    outcome = "unauthorized"


class TooLarge(IngestError):
    """The body is over the configured limit (413)."""

    status = 413
    outcome = "too_large"


class Busy(IngestError):
    """As many bodies as allowed are being read already (503: the CRM retries later)."""

    status = 503
    outcome = "busy"


class SlowBody(IngestError):
    """The body did not arrive within the body timeout (408)."""

    status = 408
    outcome = "slow_body"


class Mismatch(Unauthorized):
    """The signature or credentials are there but wrong (401)."""


class Disabled(Unauthorized):
    """The source has no secret configured: every request is refused (401)."""

    outcome = "disabled"
