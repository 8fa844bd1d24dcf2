"""`crmkpi rules`: Prometheus rules and Alertmanager config from the catalogue and thresholds."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kpis.rules import generated_files
from kpis.thresholds import ThresholdsError, read_thresholds
from streams.config import Settings
from streams.errors import CliError


def write_rules(settings: Settings, out_dir: Path, console: Console) -> list[Path]:
    """Write every generated file under `out_dir` (the `deploy/` layout); returns their paths.

    Files whose text is already current are left untouched, so timestamps mean something.
    """
    try:
        config = read_thresholds(settings.thresholds_file)
    except ThresholdsError as error:
        raise CliError(str(error)) from None
    paths = []
    for relative, text in generated_files(config, settings.gross_margin).items():
        path = out_dir / relative
        paths.append(path)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            console.print(f"unchanged {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")
    return paths
