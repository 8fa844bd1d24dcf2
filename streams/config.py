"""Settings: `CRMKPI_*` environment variables, or the same keys in a YAML file.

The YAML file is named by `CRMKPI_CONFIG` (keys without the prefix, lower
case); environment variables win over it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from kpis.churn import ChurnRules


class Settings(BaseSettings):
    """Everything a crmkpi process can be told."""

    model_config = SettingsConfigDict(env_prefix="CRMKPI_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    topic_prefix: str = "crm."
    partitions: int = Field(default=6, ge=1)
    redis_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    gross_margin: float = Field(default=1.0, gt=0)
    thresholds_file: Path | None = None
    alertmanager_url: str | None = None  # churn-risk alerts are posted here when set
    # Where people open crmkpi and Grafana: the links of every notification (docs/alerts.md).
    public_url: str | None = None  # e.g. https://crmkpi.example.com
    grafana_url: str | None = None  # e.g. https://grafana.example.com
    group_id: str = "crmkpi"
    churn_min_signals: int = Field(default=2, ge=1)
    churn_tickets_opened: int = Field(default=3, ge=1)
    churn_sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"urgent": 4.0, "high": 24.0, "normal": 48.0, "low": 72.0}
    )
    session_timeout: float = Field(
        default=10.0, gt=0
    )  # seconds before a dead worker's partitions move
    # Webhook ingest (docs/ingest.md): a source whose secret is unset refuses every request.
    hubspot_client_secret: SecretStr | None = None
    salesforce_secret: SecretStr | None = None
    pipedrive_basic_auth: SecretStr | None = None  # user:password
    zendesk_signing_secret: SecretStr | None = None
    ingest_token: SecretStr | None = None  # bearer token of /ingest/canonical
    ingest_max_body_bytes: int = Field(default=1_048_576, ge=1)
    ingest_broker_timeout: float = Field(default=10.0, gt=0)  # seconds before answering 503
    ingest_public_url: str | None = None  # e.g. https://crmkpi.example.com: HubSpot signs it

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("CRMKPI_CONFIG")
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if config_file:
            sources += (YamlConfigSettingsSource(settings_cls, yaml_file=config_file),)
        return sources

    def churn_rules(self) -> ChurnRules:
        """The churn-signal rules and SLAs of this configuration."""
        return ChurnRules(
            min_signals=self.churn_min_signals,
            tickets_opened=self.churn_tickets_opened,
            sla_hours=dict(self.churn_sla_hours),
        )

    def kafka_options(self) -> dict[str, object]:
        """Connection options shared by every aiokafka client."""
        options: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password,
            )
        return options
