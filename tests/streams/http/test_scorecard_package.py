"""A non-editable install carries the scorecard's page: the wheel holds its web files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests import REPO_ROOT

ROOT = REPO_ROOT
WEB = ROOT / "streams" / "http" / "scorecard" / "web"


def test_the_wheel_ships_the_page_its_styles_and_script(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("kpis", "streams"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    subprocess.run([*command, "-w", str(tmp_path), str(source)], check=True, timeout=120)
    (wheel,) = tmp_path.glob("crmkpi-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"streams/http/scorecard/web/{path.name}" for path in WEB.iterdir()}
    assert {
        "streams/http/scorecard/web/index.html",
        "streams/http/scorecard/web/scorecard.js",
    } <= expected
    assert expected <= names
