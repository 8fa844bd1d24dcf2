"""Who may read: `CRMKPI_READ_TOKEN` and the users of `CRMKPI_READ_USERS_FILE`.

A reader shows the token as `Authorization: Bearer <token>`, as the password of
HTTP basic auth (any user name: browsers and Prometheus both speak it), or as the
`crmkpi_read_token` cookie; a user of the file shows its own password by basic auth.
With neither configured, reads are open to whoever reaches the internal listener.

The file holds bcrypt hashes, as `htpasswd -B` writes them (plain passwords are still
read, with a warning). A bcrypt check costs tens of milliseconds: it runs off the event
loop, and each user's last verified password is remembered (as a SHA-256 digest) so that a
browser or Prometheus sending the same credentials on every request pays it once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
from pathlib import Path

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

from streams.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_COOKIE = "crmkpi_read_token"
CHALLENGE = {"WWW-Authenticate": 'Basic realm="crmkpi"'}  # browsers then ask for user, password
OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # probes of orchestrators carry no credentials
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def read_users(path: Path) -> dict[str, str]:
    """The `user:bcrypt-hash` (or `user:password`) lines of `path` (blank lines and `#`
    comments skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the read users file: {error.strerror}") from None
    users = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, separator, password = line.partition(":")
        if not separator or not user or not password:
            raise ConfigError(f"{path}: line {number}: expected user:bcrypt-hash")
        if password.startswith("$") and not password.startswith(BCRYPT_PREFIXES):
            raise ConfigError(f"{path}: line {number}: only bcrypt hashes are supported")
        if not password.startswith(BCRYPT_PREFIXES):
            log.warning("%s: line %d: a plain password; store a bcrypt hash", path, number)
        users[user] = password
    return users


def _bcrypt_matches(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(errors="replace"), hashed.encode())
    except ValueError:  # a malformed hash matches nothing
        return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(errors="replace"), expected.encode())


class ReadAuth:
    """Decides whether a request may read; `enabled` once a token or a user is configured."""

    def __init__(self, token: SecretStr | None, users: dict[str, str]) -> None:
        self.token = token.get_secret_value() if token is not None else ""
        self.users = users
        self.verified: dict[str, bytes] = {}  # per user, the digest of its last good password

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.users)

    async def allows(self, request: web.Request) -> bool:
        """Whether the request shows the token, or a configured user's password."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return bool(self.token) and _same(credentials.strip(), self.token)
        if scheme.lower() == "basic":
            return await self._basic(credentials.strip())
        cookie = request.cookies.get(TOKEN_COOKIE)
        return bool(self.token) and cookie is not None and _same(cookie, self.token)

    async def _basic(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, ValueError):
            return False
        user, _, password = decoded.partition(":")
        if self.token and _same(password, self.token):
            return True
        expected = self.users.get(user)
        if expected is None:
            return False
        if not expected.startswith(BCRYPT_PREFIXES):
            return _same(password, expected)
        digest = hashlib.sha256(password.encode(errors="replace")).digest()
        if hmac.compare_digest(self.verified.get(user, b""), digest):
            return True
        if not await asyncio.to_thread(_bcrypt_matches, password, expected):
            return False
        self.verified[user] = digest
        return True

    def middleware(self) -> Middleware:
        """Refuses reads without credentials with 401 and a basic-auth challenge."""

        @web.middleware
        async def require_credentials(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path in OPEN_PATHS or request.path.startswith("/ingest/"):
                return await handler(request)
            if not await self.allows(request):
                raise web.HTTPUnauthorized(text="credentials required", headers=CHALLENGE)
            return await handler(request)

        return require_credentials
