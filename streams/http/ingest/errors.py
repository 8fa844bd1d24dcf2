"""Why an ingest request is refused: each maps to one HTTP status."""

from __future__ import annotations


class IngestError(Exception):
    """A refused request; `status` is its HTTP status and the message its one-line reason."""

    status = 400


class BadPayload(IngestError):
    """The body is not what the source sends (400): the message names the problem."""

    status = 400


class Unauthorized(IngestError):
    """Missing, wrong or stale credentials, or a source with no secret configured (401)."""

    status = 401


class TooLarge(IngestError):
    """The body is over the configured limit (413)."""

    status = 413
