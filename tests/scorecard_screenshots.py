"""Regenerates the README's scorecard screenshots from a fresh monitor.

`python -m tests.scorecard_screenshots [DIR]` (default `docs/`): an embedded broker and a
worker with the shipped thresholds file and the goals below, 60 simulated days with
anomalies (so the 30d tiles have a previous period and the quarter's goals a pace), then
Debian's chromium writes `scorecard-overview.png` (30d) and `scorecard-breakdown.png` (won
amount by rep over the quarter to date, each rep against its quota).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from streams.kafka.broker import EmbeddedBroker
from tests.conftest import free_port
from tests.processes import crmkpi_env, run_crmkpi, wait_idle, worker
from tests.scorecard_browser import CHROMIUM

DAYS = 60
REPS = 16  # of the simulated company
GOALS = [  # sized for the simulated company, so that some are on track and some behind
    {"kpi": "won_amount", "window": "30d", "target": 5_000_000},
    {"kpi": "csat", "window": "30d", "target": 0.85},
    {"kpi": "won_amount", "window": "qtd", "target": 12_500_000},
    *(
        {
            "kpi": "won_amount",
            "window": "qtd",
            "dimension": {"rep": f"rep-{n:02}"},
            "target": 750_000,
        }
        for n in range(1, REPS + 1)
    ),
]
VIEWPORT = {"width": 1400, "height": 1000}


def feed(bootstrap: str, tmp: Path) -> None:
    """Simulate the history and send it; rejected lines are part of the picture."""
    history = tmp / "history.jsonl"
    env = crmkpi_env(bootstrap, 0)
    simulated = run_crmkpi(
        ["simulate", "--days", str(DAYS), "--anomalies", "--out", str(history)], env
    )
    if simulated.returncode != 0:
        raise SystemExit(simulated.stderr)
    run_crmkpi(["produce", str(history)], env, timeout=600)


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(locale="en-US", color_scheme="light", viewport=VIEWPORT)
        page = context.new_page()
        page.goto(f"{url}/#window=30d")
        page.wait_for_selector("body[data-ready=true]")
        page.screenshot(path=out / "scorecard-overview.png", full_page=True)
        page.click('.windows button[data-window="qtd"]')
        page.click('.tile[data-kpi="won_amount"]')
        page.wait_for_selector("#breakdown[open] #bars[data-goals=true] li")
        page.screenshot(path=out / "scorecard-breakdown.png")
        browser.close()


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        with EmbeddedBroker(f"127.0.0.1:{free_port()}", log_path=tmp / "tansu.log") as broker:
            goals = tmp / "goals.yaml"
            goals.write_text(json.dumps({"goals": GOALS}))  # YAML is a superset of JSON
            with worker(broker.bootstrap, tmp, CRMKPI_GOALS_FILE=str(goals)) as (url, _):
                feed(broker.bootstrap, tmp)
                wait_idle(url, accepted_at_least=1)
                shoot(url, out)
    print(f"wrote {out / 'scorecard-overview.png'} and {out / 'scorecard-breakdown.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
