"""crmkpi's tests: tests/kpis and tests/streams mirror the code; tests/integration runs
real processes."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: deploy/, grafana/, the README."""
