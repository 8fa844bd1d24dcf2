"""The sources `POST /ingest/{source}` accepts: how each authenticates and translates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from streams.config import IngestStages, Settings
from streams.http.ingest import canonical, hubspot, pipedrive, salesforce, signatures, zendesk
from streams.http.ingest.items import Item

Adapter = Callable[[bytes, IngestStages], list[Item]]


@dataclass(frozen=True)
class Source:
    """One CRM (or `canonical`): its secret's setting, its verifier and its adapter.

    `batched`: the CRM sends several changes per request and retries all of them on any
    non-2xx answer, so each is judged alone and a refused one goes to the dead-letter
    topic; otherwise a refused change refuses the request (400).
    """

    name: str
    secret_setting: str  # the `Settings` field; the environment variable is CRMKPI_ + upper
    verify: signatures.Verifier
    adapt: Adapter
    batched: bool = False

    @property
    def secret_variable(self) -> str:
        return f"CRMKPI_{self.secret_setting.upper()}"

    def secret(self, settings: Settings) -> str | None:
        """The configured secret; None (ingest refused) when unset or empty."""
        value: SecretStr | None = getattr(settings, self.secret_setting)
        if value is None:
            return None
        return value.get_secret_value() or None


def _stageless(adapt: Callable[[bytes], list[Item]]) -> Adapter:
    """An adapter that has no closing stages to read."""
    return lambda body, stages: adapt(body)


SOURCES = {
    source.name: source
    for source in (
        Source("canonical", "ingest_token", signatures.bearer, _stageless(canonical.adapt)),
        Source("hubspot", "hubspot_client_secret", signatures.hubspot_v3, hubspot.adapt, True),
        Source(
            "salesforce",
            "salesforce_secret",
            signatures.salesforce,
            _stageless(salesforce.adapt),
            True,
        ),
        Source("pipedrive", "pipedrive_basic_auth", signatures.basic_auth, pipedrive.adapt),
        Source("zendesk", "zendesk_signing_secret", signatures.zendesk, _stageless(zendesk.adapt)),
    )
}
