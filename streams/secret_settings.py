"""Secrets from files, placeholder secrets refused, and URLs without their passwords.

Docker and Kubernetes hand secrets over as files: `CRMKPI_<SETTING>_FILE=/path` reads
one setting from a file, and `CRMKPI_SECRETS_DIR=/run/secrets` reads every setting
that has a file named `crmkpi_<setting>` there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SecretsSettingsSource

from streams.errors import ConfigError

PREFIX = "CRMKPI_"
PLACEHOLDER = "change-me"


def read_secret_file(path: Path, variable: str) -> str:
    """The file's content without its final line break (editors add one)."""
    try:
        return path.read_text().rstrip("\r\n")
    except OSError as error:
        raise ConfigError(f"{variable}: cannot read {path}: {error.strerror}") from None


class FileVariables(PydanticBaseSettingsSource):
    """`CRMKPI_<SETTING>_FILE`: the setting's value is the content of that file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            variable = f"{PREFIX}{name.upper()}_FILE"
            path = os.environ.get(variable)
            if path:
                values[name] = read_secret_file(Path(path), variable)
        return values


def file_sources(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The `*_FILE` variables, then the secrets directory when `CRMKPI_SECRETS_DIR` names one."""
    sources: tuple[PydanticBaseSettingsSource, ...] = (FileVariables(settings_cls),)
    directory = os.environ.get(f"{PREFIX}SECRETS_DIR")
    if directory:
        sources += (SecretsSettingsSource(settings_cls, secrets_dir=directory),)
    return sources


def refuse_placeholder_secrets(settings: BaseModel) -> None:
    """Refuse to start while a secret is still the example's `change-me`."""
    for name, value in settings:
        if isinstance(value, SecretStr) and value.get_secret_value() == PLACEHOLDER:
            raise ConfigError(f"{PREFIX}{name.upper()} is still {PLACEHOLDER!r}: set a real secret")
    redis_url = getattr(settings, "redis_url", None)
    if redis_url and urlsplit(redis_url.get_secret_value()).password == PLACEHOLDER:
        raise ConfigError(f"{PREFIX}REDIS_URL's password is still {PLACEHOLDER!r}: set a real one")


def redacted(url: str) -> str:
    """`url` with its password (if any) replaced by `***`, for logs and start-up output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
