"""Fail fast on secrets and public links: `crmkpi rules --check-secrets`, and the compose
start-up step and flags of Alertmanager and Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kpis.thresholds import ThresholdsError, parse_thresholds
from streams.cli.rules import missing_secrets
from tests import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"


def notify_config(tmp_path: Path, slack: str | None, password: str | None) -> str:
    """A thresholds file whose secret files hold `slack` and `password` (None: no file)."""
    files = {}
    for name, content in (("slack-webhook-url", slack), ("smtp-password", password)):
        files[name] = tmp_path / name
        if content is not None:
            files[name].write_text(content)
    return (
        "notify:\n"
        f"  slack: {{api_url_file: {files['slack-webhook-url']}}}\n"
        f"  email: {{auth_password_file: {files['smtp-password']}}}\n"
    )


def test_check_secrets_names_each_missing_or_empty_file(tmp_path: Path) -> None:
    problems = missing_secrets(parse_thresholds(notify_config(tmp_path, "", None)))
    assert problems == [
        f"notify.slack.api_url_file: {tmp_path / 'slack-webhook-url'} is empty: "
        "it must hold the Slack webhook URL",
        f"notify.email.auth_password_file: {tmp_path / 'smtp-password'} does not exist: "
        "it must hold the SMTP password",
    ]


def test_check_secrets_passes_with_both_files_filled(tmp_path: Path) -> None:
    config = notify_config(tmp_path, "https://hooks.slack.test/x", "secret")
    assert missing_secrets(parse_thresholds(config)) == []


def test_a_receiver_no_severity_is_routed_to_needs_no_secret(tmp_path: Path) -> None:
    config = notify_config(tmp_path, None, "secret")
    routing = "  routing: {critical: [email], warning: [email], info: [email]}\n"
    assert missing_secrets(parse_thresholds(config + routing)) == []


def test_the_cli_refuses_with_one_line(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.yaml"
    thresholds.write_text(notify_config(tmp_path, None, "secret"))
    result = subprocess.run(
        [sys.executable, "-m", "streams", "rules", "--check-secrets"],
        capture_output=True,
        text=True,
        env={**os.environ, "CRMKPI_THRESHOLDS_FILE": str(thresholds)},
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "notify.slack.api_url_file" in result.stderr


def alertmanager_start_up(secrets: Path) -> str:
    """Alertmanager's compose command as the shell runs it, up to starting the binary, with
    its secret files in `secrets`."""
    command: str = yaml.safe_load(COMPOSE.read_text())["services"]["alertmanager"]["command"][0]
    command = command.replace("$$", "$").replace("/etc/crmkpi", str(secrets))
    return command.split(" exec ")[0] + " echo started"


@pytest.mark.parametrize(
    ("slack", "password", "refused"),
    [
        ("", "p", "slack-webhook-url"),
        (None, "p", "slack-webhook-url"),
        ("https://hooks.slack.test/x", "change-me\n", "smtp-password"),
        ("https://hooks.slack.test/x", "", "smtp-password"),
    ],
)
def test_compose_refuses_to_start_alertmanager_without_a_secret(
    tmp_path: Path, slack: str | None, password: str, refused: str
) -> None:
    for name, content in (("slack-webhook-url", slack), ("smtp-password", password)):
        if content is not None:
            (tmp_path / name).write_text(content)
    result = subprocess.run(
        ["sh", "-c", alertmanager_start_up(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 1 and "started" not in result.stdout
    assert result.stderr == f"deploy/secrets/{refused} is missing, empty or change-me: " + (
        "write the Slack webhook URL into it\n"
        if refused == "slack-webhook-url"
        else "write the SMTP password into it\n"
    )


def test_compose_starts_alertmanager_with_both_secrets(tmp_path: Path) -> None:
    (tmp_path / "slack-webhook-url").write_text("https://hooks.slack.test/x")
    (tmp_path / "smtp-password").write_text("p")
    result = subprocess.run(
        ["sh", "-c", alertmanager_start_up(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0 and result.stdout == "started\n"


def test_compose_gives_prometheus_and_alertmanager_their_public_url() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    prometheus = " ".join(services["prometheus"]["command"])
    alertmanager = services["alertmanager"]["command"][0]
    assert "--web.external-url=${CRMKPI_PUBLIC_URL:-http://localhost:8000}/prometheus/" in (
        prometheus
    )
    assert "--web.external-url=${CRMKPI_PUBLIC_URL:-http://localhost:8000}/alertmanager/" in (
        alertmanager
    )


def test_routing_names_a_mistyped_receiver_with_a_suggestion() -> None:
    with pytest.raises(ThresholdsError) as caught:
        parse_thresholds("notify:\n  routing:\n    warning: [slack, emial]\n")
    assert str(caught.value) == (
        "thresholds.yaml: notify.routing.warning.1: Input should be 'slack' or 'email' "
        "(got 'emial') (did you mean 'email'?)"
    )


def test_by_default_critical_and_warning_go_to_both_and_info_to_email() -> None:
    routing = parse_thresholds("").notify.routing
    assert (routing.critical, routing.warning, routing.info) == (
        ["slack", "email"],
        ["slack", "email"],
        ["email"],
    )
