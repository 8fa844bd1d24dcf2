"""The review as markdown (also the plain text of emails), self-contained HTML and JSON."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from kpis.review.model import KpiReview, Review
from kpis.review.sparkline import SPARK_HEIGHT, SPARK_WIDTH
from kpis.review.text import (
    NO_VALUE,
    delta_text,
    goal_name,
    ids_text,
    percent_text,
    relative_text,
    value_text,
)
from kpis.units import Currency

FORMATS = ("markdown", "html", "json")


def title(review: Review) -> str:
    """`Weekly KPI review (7d vs prev_7d, to 2026-03-31T23:59:00Z)`."""
    kind = {"week": "Weekly", "month": "Monthly"}[review.period]
    return (
        f"{kind} KPI review ({review.window} vs {review.previous_window}, "
        f"to {review.watermark or 'no events yet'})"
    )


def kpi_row(line: KpiReview, currency: Currency) -> list[str]:
    """KPI, window, value, previous, change, relative change."""
    kpi, change = line.kpi, line.change
    return [
        kpi.title,
        line.window,
        value_text(kpi, change.value, currency),
        value_text(kpi, change.previous, currency),
        delta_text(kpi, change, currency),
        relative_text(change),
    ]


KPI_HEADER = ["KPI", "window", "value", "previous", "change", "change %"]
GOAL_HEADER = ["goal", "target", "value", "attainment", "pace"]


def goal_rows(review: Review, currency: Currency) -> list[list[str]]:
    """goal, target, value, attainment, pace."""
    by_name = {line.kpi.name: line.kpi for line in review.kpis}
    rows = []
    for goal in review.goals:
        kpi = by_name.get(goal.kpi)
        if kpi is None:
            continue
        rows.append(
            [
                goal_name(goal),
                value_text(kpi, goal.target, currency),
                value_text(kpi, goal.value, currency),
                percent_text(goal.attainment),
                percent_text(goal.pace),
            ]
        )
    return rows


def mover_rows(review: Review, currency: Currency) -> list[list[str]]:
    """KPI, dimension value, value, change."""
    return [
        [
            line.kpi.title,
            f"{line.kpi.dimension}={mover.label}",
            value_text(line.kpi, mover.change.value, currency),
            delta_text(line.kpi, mover.change, currency),
        ]
        for line in review.kpis
        for mover in line.movers
    ]


MOVER_HEADER = ["KPI", "who", "value", "change"]
ALERT_HEADER = ["alert", "severity", "labels"]
RISK_HEADER = ["segment", "customers at risk"]
IDS_HEADER = "customer ids"
RISK_HEADING = "At-risk customers"


def _segment_ids(review: Review, segment: str) -> tuple[str, ...] | None:
    """The ids of a segment's customers at risk; None when /kpis listed none."""
    if review.at_risk_ids is None:
        return None
    return review.at_risk_ids.get(segment, ())


def risk_rows(review: Review) -> list[list[str]]:
    """segment, count and, for an internal channel, the ids (capped)."""
    return [
        [segment, str(count)]
        + ([ids_text(_segment_ids(review, segment))] if review.customer_ids else [])
        for segment, count in review.at_risk_by_segment.items()
    ]


def sections(review: Review, currency: Currency) -> list[tuple[str, list[str], list[list[str]]]]:
    """Each section's heading, header and rows; a section with no rows is left out."""
    risk_header = RISK_HEADER + ([IDS_HEADER] if review.customer_ids else [])
    found = [
        ("KPIs", KPI_HEADER, [kpi_row(line, currency) for line in review.kpis]),
        ("Goals", GOAL_HEADER, goal_rows(review, currency)),
        ("Top movers", MOVER_HEADER, mover_rows(review, currency)),
        ("Alerts fired", ALERT_HEADER, alert_rows(review)),
        (RISK_HEADING, risk_header, risk_rows(review)),
    ]
    return [section for section in found if section[2]]


def alert_rows(review: Review) -> list[list[str]]:
    """alertname, severity, its other labels; one row saying none when none fired."""
    if review.alerts is None:
        return []
    if not review.alerts:
        return [["none fired", "", ""]]
    return [
        [
            alert.alertname,
            alert.severity,
            ", ".join(f"{name}={value}" for name, value in sorted(alert.labels.items())),
        ]
        for alert in review.alerts
    ]


def to_markdown(review: Review, currency: Currency) -> str:
    """GitHub-flavoured markdown: a heading and one table per section."""
    lines = [f"# {title(review)}", ""]
    for heading, header, rows in sections(review, currency):
        lines += [f"## {heading}", "", _markdown_row(header)]
        lines.append(_markdown_row(["---"] * len(header)))
        lines += [_markdown_row(row) for row in rows]
        lines.append("")
    return "\n".join(lines)


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2933;
margin:24px;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:24px;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;text-align:right;border-bottom:1px solid #f0f4f8;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f0f4f8}
.better{color:#18794e}.worse{color:#c53030}
.ids{white-space:normal;text-align:left}td img{vertical-align:middle}
""".strip()
TREND_HEADER = "trend"


def to_html(review: Review, currency: Currency, sparklines: Mapping[str, str] | None = None) -> str:
    """A self-contained page (inline CSS): the same tables, changes coloured by direction.

    `sparklines` maps a KPI's name to the `src` of its trend image (a `cid:` reference in an
    email, a `data:` URI in a page); the KPI table has a trend column when there are any."""
    images = sparklines or {}
    body = [f"<h1>{html.escape(title(review))}</h1>"]
    for heading, header, rows in sections(review, currency):
        kpis = heading == "KPIs"
        header = header + ([TREND_HEADER] if kpis and images else [])
        body.append(f"<h2>{html.escape(heading)}</h2><table>")
        body.append("<tr>" + "".join(_html_header(c) for c in header) + "</tr>")
        for index, row in enumerate(rows):
            line = review.kpis[index] if kpis else None
            cells = _html_cells(row, line.improved if line else None, heading == RISK_HEADING)
            if line is not None and images:
                cells.append(_trend_cell(images.get(line.kpi.name)))
            body.append("<tr>" + "".join(cells) + "</tr>")
        body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title(review))}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _html_header(cell: str) -> str:
    css = ' class="ids"' if cell == IDS_HEADER else ""
    return f"<th{css}>{html.escape(cell)}</th>"


def _html_cells(row: list[str], improved: bool | None, ids: bool) -> list[str]:
    """The cells of a row: changes coloured by direction, the customer ids wrapped."""
    cells = []
    for index, cell in enumerate(row):
        css = ""
        if index >= 4 and improved is not None and cell != NO_VALUE:
            css = ' class="better"' if improved else ' class="worse"'
        if ids and index == 2:
            css = ' class="ids"'
        cells.append(f"<td{css}>{html.escape(cell)}</td>")
    return cells


def _trend_cell(src: str | None) -> str:
    if src is None:
        return "<td></td>"
    size = f'width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}"'
    return f'<td><img src="{html.escape(src)}" {size} alt="daily trend"></td>'


def to_json(review: Review) -> dict[str, Any]:
    """The review as data: raw numbers, no formatting."""
    return {
        "period": review.period,
        "window": review.window,
        "previous_window": review.previous_window,
        "watermark": review.watermark,
        "kpis": [
            {
                "kpi": line.kpi.name,
                "window": line.window,
                "value": line.change.value,
                "previous": line.change.previous,
                "change": line.change.delta,
                "relative_change": line.change.relative,
                "improved": line.improved,
                "trend": list(review.trends.get(line.kpi.name, ())) or None,
                "movers": [
                    {
                        "labels": {line.kpi.dimension: mover.label},
                        "value": mover.change.value,
                        "previous": mover.change.previous,
                        "change": mover.change.delta,
                    }
                    for mover in line.movers
                ],
            }
            for line in review.kpis
        ],
        "goals": [
            {
                "kpi": goal.kpi,
                "window": goal.window,
                "labels": goal.labels,
                "target": goal.target,
                "value": goal.value,
                "attainment": goal.attainment,
                "pace": goal.pace,
            }
            for goal in review.goals
        ],
        "at_risk_by_segment": review.at_risk_by_segment,
        **({"at_risk_customer_ids": _ids_json(review)} if review.customer_ids else {}),
        "alerts": None
        if review.alerts is None
        else [
            {"alertname": a.alertname, "severity": a.severity, "labels": a.labels}
            for a in review.alerts
        ],
    }


def _ids_json(review: Review) -> dict[str, list[str]] | None:
    """Every at-risk customer's id per segment (no cap); None when /kpis listed none."""
    if review.at_risk_ids is None:
        return None
    return {segment: list(ids) for segment, ids in review.at_risk_ids.items()}
