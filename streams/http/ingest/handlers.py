"""An adapter's translations by the kind of CRM change; other kinds translate to nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, TypeAlias

from streams.http.ingest.payload import CanonicalEvent

P = ParamSpec("P")
Translation: TypeAlias = Callable[P, list[CanonicalEvent]]


class Handlers(Generic[P]):
    """`@handlers.on("deal", "creation")` registers a translation; `events` runs a kind's."""

    def __init__(self) -> None:
        self._by_kind: dict[tuple[str, ...], Translation[P]] = {}

    def on(self, *kind: str) -> Callable[[Translation[P]], Translation[P]]:
        def register(translate: Translation[P]) -> Translation[P]:
            self._by_kind[kind] = translate
            return translate

        return register

    def events(
        self, kind: tuple[str, ...], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[CanonicalEvent]:
        translate = self._by_kind.get(kind)
        return translate(*args, **kwargs) if translate is not None else []
