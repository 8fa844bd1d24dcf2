"""Settings: `CRMKPI_*` environment variables, or the same keys in a YAML file.

The YAML file is named by `CRMKPI_CONFIG` (keys without the prefix, lower
case); environment variables win over it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from kpis.churn import ChurnRules
from kpis.goals import Goals, GoalsError, read_goals
from kpis.retention import DAY_US, DEFAULT_GRACE_DAYS, MIN_GRACE_DAYS
from kpis.review.schedule import Schedule, ScheduleError, parse_schedule
from kpis.thresholds import ThresholdsConfig, ThresholdsError, read_thresholds
from kpis.units import Currency, currency_problem
from streams.errors import ConfigError
from streams.secret_settings import file_sources


class ClosingStages(BaseModel):
    """The stage ids of one pipeline that close a deal as won or lost, or close a ticket."""

    won: list[str] = Field(default_factory=list)
    lost: list[str] = Field(default_factory=list)
    closed: list[str] = Field(default_factory=list)


DEFAULT_PIPELINES = {  # the CRMs' own closing stages: deals won/lost, ticket "Closed"
    "hubspot_deals": {"default": ClosingStages(won=["closedwon"], lost=["closedlost"])},
    "hubspot_tickets": {"0": ClosingStages(closed=["4"])},
}


class IngestStages(BaseModel):
    """Closing stages per CRM pipeline id (docs/ingest.md). The CRMs' default pipelines
    keep their own closing stages unless a pipeline of the same id is configured."""

    hubspot_deals: dict[str, ClosingStages] = Field(default_factory=dict, validate_default=True)
    hubspot_tickets: dict[str, ClosingStages] = Field(default_factory=dict, validate_default=True)
    pipedrive_deals: dict[str, ClosingStages] = Field(default_factory=dict)

    @field_validator("hubspot_deals", "hubspot_tickets")
    @classmethod
    def _with_default_pipelines(
        cls, pipelines: dict[str, ClosingStages], info: ValidationInfo
    ) -> dict[str, ClosingStages]:
        return {**DEFAULT_PIPELINES[str(info.field_name)], **pipelines}


class ReviewSchedules(BaseModel):
    """When the reporter sends the periodic review (docs/review.md); unset: never."""

    weekly: str | None = None  # "MON 08:00" in CRMKPI_TIMEZONE
    monthly: str | None = None  # "1 08:00": a day from 1 to 28
    channels: tuple[Literal["slack", "email"], ...] = ("slack", "email")
    # The internal channels: they get the ids of the customers at risk, the others counts.
    customer_ids: tuple[Literal["slack", "email"], ...] = ()
    attempts: int = Field(default=5, ge=1)  # per delivery, delays doubling from first_delay
    first_delay: float = Field(default=2.0, gt=0)  # seconds
    retry_later_seconds: float = Field(default=60.0, gt=0)  # then, until the channel gets it
    wait_idle_seconds: float = Field(default=600.0, ge=0)  # for the lag to reach 0 once due

    @field_validator("weekly", "monthly")
    @classmethod
    def _readable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                parse_schedule(str(info.field_name), value)
            except ScheduleError as error:
                raise ValueError(str(error)) from None
        return value

    def schedules(self) -> tuple[Schedule, ...]:
        """The schedules that are set."""
        named = (("weekly", self.weekly), ("monthly", self.monthly))
        return tuple(parse_schedule(kind, text) for kind, text in named if text is not None)


class Settings(BaseSettings):
    """Everything a crmkpi process can be told."""

    model_config = SettingsConfigDict(env_prefix="CRMKPI_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    topic_prefix: str = "crm."
    partitions: int = Field(default=6, ge=1)
    redis_url: SecretStr | None = None  # holds its password: never printed, redacted in output
    # Set by `crmkpi up --workers N` without Redis for its other workers: the Unix socket of
    # the store its own process holds (`streams.read.relay_store`).
    store_relay: str | None = None
    http_host: str = "127.0.0.1"  # the internal listener: page, /events, /kpis, /metrics, ...
    http_port: int = 8000
    # The public ingest listener (docs/security.md); without a port, /ingest is on the internal one.
    ingest_host: str = "127.0.0.1"
    ingest_port: int | None = None
    read_token: SecretStr | None = None  # reads need it: Bearer, basic-auth password or cookie
    read_users_file: Path | None = None  # `user:bcrypt-hash` lines, also accepted for reads
    # Connection hygiene (docs/security.md): slow or idle clients are cut, busy ingest says 503.
    http_header_timeout: float = Field(default=10.0, gt=0)  # seconds to send a request's headers
    http_body_timeout: float = Field(default=30.0, gt=0)  # seconds to send a request's body
    ingest_max_concurrent_bodies: int = Field(default=16, ge=1)
    max_event_streams: int = Field(default=100, ge=1)  # scorecard pages connected at once
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()  # Host names served; empty: any
    gross_margin: float = Field(default=1.0, gt=0)
    timezone: str = "UTC"  # IANA name of `mtd` / `qtd`; changing it needs a replay
    currency: str = "USD"  # ISO 4217 code of every amount shown: page, Grafana, alerts
    thresholds_file: Path | None = None
    goals_file: Path | None = None  # default: deploy/goals.yaml (kpis.goals)
    alertmanager_url: str | None = None  # churn-risk alerts are posted here when set
    prometheus_url: str | None = None  # the review lists the alerts that fired, asked here
    review: ReviewSchedules = Field(default_factory=ReviewSchedules)  # periodic review sends
    # Where people open crmkpi and Grafana: the links of every notification (docs/alerts.md).
    public_url: str | None = None  # e.g. https://crmkpi.example.com
    grafana_url: str | None = None  # e.g. https://grafana.example.com
    group_id: str = "crmkpi"
    churn_min_signals: int = Field(default=2, ge=1)
    churn_tickets_opened: int = Field(default=3, ge=1)
    churn_sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"urgent": 4.0, "high": 24.0, "normal": 48.0, "low": 72.0}
    )
    # KPIS.md "State retention": closed entities and old event ids are forgotten after it.
    grace_days: int = Field(default=DEFAULT_GRACE_DAYS, ge=MIN_GRACE_DAYS)
    session_timeout: float = Field(
        default=10.0, gt=0
    )  # seconds before a dead worker's partitions move
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"  # INFO: each recovery
    # Webhook ingest (docs/ingest.md): a source whose secret is unset refuses every request.
    hubspot_client_secret: SecretStr | None = None
    salesforce_secret: SecretStr | None = None
    pipedrive_basic_auth: SecretStr | None = None  # user:password
    zendesk_signing_secret: SecretStr | None = None
    ingest_token: SecretStr | None = None  # bearer token of /ingest/canonical
    ingest_max_body_bytes: int = Field(default=1_048_576, ge=1)
    ingest_broker_timeout: float = Field(default=10.0, gt=0)  # seconds before answering 503
    ingest_public_url: str | None = None  # e.g. https://crmkpi.example.com: HubSpot signs it
    ingest_stages: IngestStages = Field(default_factory=IngestStages)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone name (e.g. UTC, Europe/Paris)"
            ) from None
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_code(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            problem = currency_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(host.strip().lower() for host in value.split(",") if host.strip())
        return value

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
        sources += file_sources(settings_cls)  # CRMKPI_*_FILE and CRMKPI_SECRETS_DIR
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

    def money(self) -> Currency:
        """The currency every amount is shown in."""
        return Currency(self.currency)

    def goals(self) -> Goals:
        """The goals of the goals file; ConfigError names its first bad entry."""
        try:
            return read_goals(self.goals_file)
        except GoalsError as error:
            raise ConfigError(str(error)) from None

    def thresholds(self) -> ThresholdsConfig:
        """The thresholds file with its links and currency; ConfigError names what is wrong."""
        try:
            return read_thresholds(
                self.thresholds_file, self.public_url, self.grafana_url, self.money()
            )
        except ThresholdsError as error:
            raise ConfigError(str(error)) from None

    def zone(self) -> ZoneInfo:
        """The time zone of the calendar windows."""
        return ZoneInfo(self.timezone)

    def grace_us(self) -> int:
        """The grace period in microseconds."""
        return self.grace_days * DAY_US

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
                sasl_plain_password=(
                    self.kafka_sasl_password.get_secret_value()
                    if self.kafka_sasl_password is not None
                    else None
                ),
            )
        return options
