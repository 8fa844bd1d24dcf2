"""One rendering per snapshot: the `/kpis` and `/metrics` bodies, plain and gzipped, shared by
every reader of the same snapshot.

Two hundred readers of one snapshot cost one rendering and one compression; gzip makes each
answer about a sixth of the bytes to write, which the worker's loop pays per reader.
Prometheus, browsers and aiohttp clients all ask for gzip.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import cached_property
from typing import Generic, TypeVar

from aiohttp import web

S = TypeVar("S")
GZIP_LEVEL = 5  # most of level 9's saving at a fraction of its time


class Body:
    """A response body, compressed once, when a reader first asks for gzip."""

    def __init__(self, plain: bytes) -> None:
        self.plain = plain

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.plain, GZIP_LEVEL, mtime=0)


class RenderedOnce(Generic[S]):
    """`render` applied once per source (by identity), its last body kept."""

    def __init__(self, render: Callable[[S], bytes]) -> None:
        self.render = render
        self.source: S | None = None
        self.body = Body(b"")

    def __call__(self, source: S) -> Body:
        if source is not self.source:
            self.source, self.body = source, Body(self.render(source))
        return self.body


def accepts_gzip(request: web.Request) -> bool:
    """Whether the request's Accept-Encoding names gzip (and does not refuse it with q=0)."""
    for coding in request.headers.get("Accept-Encoding", "").split(","):
        name, _, parameters = coding.partition(";")
        if name.strip().lower() == "gzip":
            quality = parameters.strip().lower().replace(" ", "")
            return quality not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def respond(request: web.Request, body: Body, content_type: str) -> web.Response:
    """`body` as the response to `request`: gzipped when the client accepts it."""
    gzipped = accepts_gzip(request)
    response = web.Response(body=body.gzipped if gzipped else body.plain)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Type"] = content_type
    response.headers["Vary"] = "Accept-Encoding"
    return response
