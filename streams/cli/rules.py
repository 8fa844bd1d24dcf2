"""`crmkpi rules`: rules, Alertmanager config and dashboards from the catalogue and thresholds."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kpis.dashboards import generated_dashboards
from kpis.rules import generated_files
from kpis.thresholds import ThresholdsError, read_thresholds
from streams.config import Settings
from streams.errors import CliError


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


def write_rules(
    settings: Settings,
    out_dir: Path,
    console: Console,
    dashboards_dir: Path = Path("grafana/dashboards"),
) -> list[Path]:
    """Write every generated file: rules under `out_dir` (the `deploy/` layout), dashboards
    under `dashboards_dir`; returns their paths."""
    try:
        config = read_thresholds(
            settings.thresholds_file, settings.public_url, settings.grafana_url
        )
    except ThresholdsError as error:
        raise CliError(str(error)) from None
    paths = _write(generated_files(config), out_dir, console)
    return paths + _write(generated_dashboards(config), dashboards_dir, console)
