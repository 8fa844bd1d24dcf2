"""The review as a Slack incoming-webhook message: Block Kit with a compact table."""

from __future__ import annotations

from typing import Any

from kpis.review.model import Review
from kpis.review.render import alert_rows, kpi_row, mover_rows, risk_rows, title
from kpis.review.text import NO_VALUE, percent_text
from kpis.thresholds import AlertLinks
from kpis.units import Currency

SECTION_LIMIT = 3000  # characters of a section block's text


def _table(review: Review, currency: Currency) -> str:
    """KPI, value and change in a monospaced block, as wide as its longest cells."""
    rows = [["KPI", "value", "change"]]
    for line in review.kpis:
        name, _, value, _, delta, _ = kpi_row(line, currency)
        rows.append([name, value, delta])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    text = "\n".join(
        f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows
    )
    return f"```\n{text}\n```"[:SECTION_LIMIT]


def _movers(review: Review, currency: Currency) -> str:
    lines = [f"• {kpi}: {who} {change}" for kpi, who, _, change in mover_rows(review, currency)]
    return "\n".join(lines)[:SECTION_LIMIT]


def slack_message(review: Review, currency: Currency, links: AlertLinks) -> dict[str, Any]:
    """The webhook's JSON body: a header, the table, goals, movers, at-risk counts, links."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(review)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _table(review, currency)}},
    ]
    goals = [
        f"• {goal.kpi} ({goal.window}): {percent_text(goal.attainment)} of target"
        + (f", pace {percent_text(goal.pace)}" if goal.pace is not None else "")
        for goal in review.goals
    ]
    at_risk = ", ".join(
        f"{segment} {count}" for segment, count in review.at_risk_by_segment.items()
    )
    if review.customer_ids and at_risk:
        at_risk = "\n".join(
            f"• {segment} {count}: {ids}" for segment, count, ids in risk_rows(review)
        )
    alerts = [f"• {' '.join(cell for cell in row if cell)}" for row in alert_rows(review)]
    for heading, text in (
        ("Goals", "\n".join(goals)),
        ("Top movers", _movers(review, currency)),
        ("Alerts fired", "\n".join(alerts)),
        ("At-risk customers", at_risk),
    ):
        if text and text != NO_VALUE:
            body = f"*{heading}*\n{text}"[:SECTION_LIMIT]
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<{links.scorecard}|Scorecard> · <{links.dashboard}|Dashboards>",
                }
            ],
        }
    )
    return {"text": title(review), "blocks": blocks}
