"""What every response and request of both listeners goes through: the Host allow-list and
the browser security headers."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from streams.http.outcomes import count

log = logging.getLogger(__name__)

# The page loads its own script, style and data only, and no other site may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An `on_response_prepare` signal: error pages and static files get the headers too."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def host_allow_list(allowed: Iterable[str]) -> Middleware:
    """Refuses requests whose Host is not one of `allowed` (DNS rebinding), with 421.

    `/healthz` says nothing worth rebinding for, and container probes call it by address.
    """
    names = frozenset(name.lower() for name in allowed)

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.url.host or "").lower()
        if host not in names and request.path != "/healthz":
            log.info("refused a request for host %r (CRMKPI_ALLOWED_HOSTS)", host[:100])
            if request.path.startswith("/ingest/"):
                count(request.match_info.get("source", ""), "bad_host")
            raise web.HTTPMisdirectedRequest(text="unknown host")
        return await handler(request)

    return check_host
