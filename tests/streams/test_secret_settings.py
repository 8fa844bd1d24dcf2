"""Secrets: SecretStr everywhere, readable from files, never printed, never a placeholder."""

from __future__ import annotations

import os
import typing
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.config import Settings
from streams.errors import ConfigError
from streams.secret_settings import redacted
from tests.conftest import free_port
from tests.processes import run_crmkpi

SECRET_WORDS = ("password", "secret", "token", "basic_auth")


def test_every_password_secret_and_token_setting_is_a_secret_str() -> None:
    secrets = [name for name in Settings.model_fields if any(w in name for w in SECRET_WORDS)]
    assert "kafka_sasl_password" in secrets and "read_token" in secrets
    for name in secrets:
        assert SecretStr in typing.get_args(Settings.model_fields[name].annotation), name
    shown = repr(Settings(kafka_sasl_password="sasl-pw", read_token="read-tok"))
    assert "sasl-pw" not in shown and "read-tok" not in shown


def test_the_redis_url_holding_a_password_is_a_secret_str() -> None:
    settings = Settings(redis_url="redis://crmkpi:redis-pw@127.0.0.1:6379/0")
    assert isinstance(settings.redis_url, SecretStr)
    assert "redis-pw" not in repr(settings) and "redis-pw" not in str(settings.model_dump())


def test_a_setting_is_read_from_the_file_its_file_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("from-a-file\n")
    (tmp_path / "sasl").write_text("sasl-from-a-file")
    monkeypatch.setenv("CRMKPI_READ_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("CRMKPI_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "sasl"))
    monkeypatch.setenv("CRMKPI_KAFKA_SASL_MECHANISM", "PLAIN")
    settings = Settings()
    assert settings.read_token == SecretStr("from-a-file")
    assert settings.kafka_options()["sasl_plain_password"] == "sasl-from-a-file"


def test_settings_are_read_from_the_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crmkpi_ingest_token").write_text("docker-secret")
    monkeypatch.setenv("CRMKPI_SECRETS_DIR", str(tmp_path))
    assert Settings().ingest_token == SecretStr("docker-secret")


def test_an_unreadable_secret_file_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMKPI_INGEST_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="CRMKPI_INGEST_TOKEN_FILE: cannot read"):
        Settings()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://crmkpi:s3cret@10.0.0.5/1", "rediss://crmkpi:***@10.0.0.5/1"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRMKPI_INGEST_TOKEN", "change-me"),
        ("CRMKPI_READ_TOKEN", "change-me"),
        ("CRMKPI_REDIS_URL", "redis://:change-me@127.0.0.1:1/0"),
    ],
)
def test_start_up_is_refused_while_a_secret_is_still_change_me(variable: str, value: str) -> None:
    env = {**os.environ, variable: value, "CRMKPI_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    result = run_crmkpi(["worker"], env, timeout=60)
    assert result.returncode == 1
    assert f"{variable}" in result.stderr and "change-me" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_up_output_shows_the_redis_url_without_its_password() -> None:
    env = {**os.environ, "CRMKPI_INGEST_TOKEN": "change-me"}  # stops right after printing
    redis = f"redis://crmkpi:s3cret-pw@127.0.0.1:{free_port()}/0"
    result = run_crmkpi(
        ["up", "--bootstrap", f"127.0.0.1:{free_port()}", "--redis", redis], env, timeout=60
    )
    assert "redis://crmkpi:***@127.0.0.1" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr
