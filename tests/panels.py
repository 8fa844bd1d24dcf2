"""The committed Grafana dashboards' panel queries, asked of a real Prometheus as Grafana would."""

from __future__ import annotations

import json
import re
from typing import Any

from tests import REPO_ROOT
from tests.prometheus import Prometheus

DASHBOARDS = REPO_ROOT / "grafana" / "dashboards"


def committed() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def default_window(dashboard: dict[str, Any]) -> str:
    """The `window` a dashboard opens on."""
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "window"]
    window: str = variable["current"]["value"]
    return window


def dimension_values(prom: Prometheus, definition: str) -> list[str]:
    """What Grafana's `label_values(selector, label)` lists, asked of Prometheus."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", definition)
    assert match, definition
    selector, label = match.groups()
    return sorted(s["metric"][label] for s in prom.query(f"group by ({label}) ({selector})"))


def promql_regex(value: str) -> str:
    """A literal value inside a PromQL regex string, escaped as Grafana does."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


def substitute(expr: str, values: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda match: values[match.group(1)], expr)


def panel_queries(prom: Prometheus, windows: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(dashboard: panel title, query) of every panel target of every committed dashboard, with
    every dimension value selected (Grafana's "All") and each of `windows` (default: the
    window the dashboard opens on); a variable listing nothing is a query of its own."""
    queries = []
    for name, dashboard in committed().items():
        values = {}
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                found = dimension_values(prom, variable["definition"])
                if not found:
                    queries.append((f"{name}: variable {variable['name']}", "(lists nothing)"))
                # Every value selected: Grafana sends a regex alternation.
                values[variable["name"]] = "(" + "|".join(map(promql_regex, found)) + ")"
        for window in windows or (default_window(dashboard),):
            values["window"] = window
            for panel in panels_of(dashboard):
                for target in panel["targets"]:
                    where = f"{name}: {panel['title']} ({window})"
                    queries.append((where, substitute(target["expr"], values)))
    return queries


def without_data(prom: Prometheus, windows: tuple[str, ...] = ()) -> list[str]:
    """The panel queries (see `panel_queries`) that return no data: none, when all is well."""
    return [
        f"{where}: {query}"
        for where, query in panel_queries(prom, windows)
        if query == "(lists nothing)" or not prom.query(query)
    ]
