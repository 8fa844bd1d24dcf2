"""`crmkpi rules`: rules, Alertmanager config and dashboards from the catalogue and thresholds."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kpis.dashboards import generated_dashboards
from kpis.rules import generated_files
from kpis.thresholds import ThresholdsConfig
from streams.config import Settings
from streams.errors import ConfigError


def _write(files: dict[str, str], out_dir: Path, console: Console) -> list[Path]:
    """Write `files` (relative path: text) under `out_dir`; files already current are untouched,
    so timestamps mean something."""
    paths = []
    for relative, text in files.items():
        path = out_dir / relative
        paths.append(path)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            console.print(f"unchanged {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")
    return paths


def missing_secrets(config: ThresholdsConfig) -> list[str]:
    """One line per secret file Alertmanager would read that is missing or empty."""
    notify = config.notify
    routed = {
        kind
        for severity in ("critical", "warning", "info")
        for kind in getattr(notify.routing, severity)
    }
    needed = []
    if "slack" in routed:
        needed.append(
            ("notify.slack.api_url_file", notify.slack.api_url_file, "the Slack webhook URL")
        )
    if "email" in routed and notify.email.auth_password_file:
        needed.append(
            (
                "notify.email.auth_password_file",
                notify.email.auth_password_file,
                "the SMTP password",
            )
        )
    problems = []
    for field, name, holds in needed:
        path = Path(name)
        if not path.is_file() or not path.read_text(encoding="utf-8").strip():
            state = "is empty" if path.is_file() else "does not exist"
            problems.append(f"{field}: {path} {state}: it must hold {holds}")
    return problems


def check_secrets(settings: Settings, console: Console) -> None:
    """Refuse (ConfigError) when a secret file Alertmanager reads is missing or empty."""
    problems = missing_secrets(settings.thresholds())
    if problems:
        raise ConfigError("; ".join(problems))
    console.print("secrets present")


def write_rules(
    settings: Settings,
    out_dir: Path,
    console: Console,
    dashboards_dir: Path = Path("grafana/dashboards"),
) -> list[Path]:
    """Write every generated file: rules under `out_dir` (the `deploy/` layout), dashboards
    under `dashboards_dir`; returns their paths."""
    config = settings.thresholds()
    paths = _write(generated_files(config), out_dir, console)
    return paths + _write(generated_dashboards(config, settings.goals()), dashboards_dir, console)
