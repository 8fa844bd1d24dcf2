"""Grafana dashboards generated from the KPI catalogue, the thresholds file and the goals file.

Plain dashboard JSON (schema of Grafana 12) reading the recording rules of
`kpis.rules`; `crmkpi rules` writes them under grafana/dashboards/.
"""

from __future__ import annotations

import json

from kpis.dashboards.boards import dashboards
from kpis.dashboards.panels import DATASOURCE_UID
from kpis.goals import Goals
from kpis.thresholds import ThresholdsConfig

__all__ = ["DATASOURCE_UID", "dashboards", "generated_dashboards"]


def generated_dashboards(config: ThresholdsConfig, goals: Goals) -> dict[str, str]:
    """Every dashboard's JSON text, by file name under grafana/dashboards/."""
    return {
        name: json.dumps(board, indent=2, ensure_ascii=False) + "\n"
        for name, board in dashboards(config, goals).items()
    }
