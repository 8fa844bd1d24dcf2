"""The sources `POST /ingest/{source}` accepts: how each authenticates and translates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from streams.config import Settings
from streams.http.ingest import canonical, hubspot, pipedrive, salesforce, signatures, zendesk
from streams.http.ingest.payload import CanonicalEvent

Adapter = Callable[[bytes], list[CanonicalEvent]]


@dataclass(frozen=True)
class Source:
    """One CRM (or `canonical`): its secret's setting, its verifier and its adapter."""

    name: str
    secret_setting: str  # the `Settings` field; the environment variable is CRMKPI_ + upper
    verify: signatures.Verifier
    adapt: Adapter

    @property
    def secret_variable(self) -> str:
        return f"CRMKPI_{self.secret_setting.upper()}"

    def secret(self, settings: Settings) -> str | None:
        """The configured secret; None (ingest refused) when unset or empty."""
        value: SecretStr | None = getattr(settings, self.secret_setting)
        if value is None:
            return None
        return value.get_secret_value() or None


SOURCES = {
    source.name: source
    for source in (
        Source("canonical", "ingest_token", signatures.bearer, canonical.adapt),
        Source("hubspot", "hubspot_client_secret", signatures.hubspot_v3, hubspot.adapt),
        Source("salesforce", "salesforce_secret", signatures.salesforce, salesforce.adapt),
        Source("pipedrive", "pipedrive_basic_auth", signatures.basic_auth, pipedrive.adapt),
        Source("zendesk", "zendesk_signing_secret", signatures.zendesk, zendesk.adapt),
    )
}
