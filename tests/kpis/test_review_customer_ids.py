"""At-risk customer ids in the review: shown only for internal channels, capped per
segment, and said to be missing when /kpis lists none."""

from __future__ import annotations

from typing import Any

import pytest

from kpis.review.model import ReviewError, build_review, with_customer_ids
from kpis.review.render import to_html, to_json, to_markdown
from kpis.review.slack import slack_message
from kpis.review.text import IDS_NOT_LISTED, IDS_SHOWN
from kpis.thresholds import ThresholdsConfig
from kpis.units import USD
from tests.kpis.test_review import SNAPSHOT

SMB = [f"cust-{n:03d}" for n in range(IDS_SHOWN + 5)]  # 25: 20 shown, "and 5 more"


def with_customers(customers: list[dict[str, Any]] | None) -> dict[str, Any]:
    """SNAPSHOT with its at-risk counts and, unless None, the customers /kpis lists."""
    counts: dict[str, int] = {}
    for customer in customers or ():
        counts[customer["segment"]] = counts.get(customer["segment"], 0) + 1
    churn: dict[str, Any] = {"at_risk_by_segment": counts or {"smb": 3}}
    if customers is not None:
        churn["customers"] = customers
    return {**SNAPSHOT, "churn_risk": churn}


def customer(customer_id: str, segment: str) -> dict[str, Any]:
    return {"customer_id": customer_id, "segment": segment, "signals": ["usage_drop"]}


DOCUMENT = with_customers(
    [customer(cid, "smb") for cid in reversed(SMB)] + [customer("ent-9", "enterprise")]
)


def test_ids_are_read_per_segment_and_sorted() -> None:
    review = build_review(DOCUMENT, "week")
    assert review.at_risk_ids == {"enterprise": ("ent-9",), "smb": tuple(SMB)}
    assert review.at_risk_by_segment == {"enterprise": 1, "smb": len(SMB)}
    assert build_review(with_customers(None), "week").at_risk_ids is None


def test_a_customer_without_a_segment_is_refused() -> None:
    with pytest.raises(ReviewError, match="customer at risk lacks 'segment'"):
        churn = {"at_risk_by_segment": {"smb": 1}, "customers": [{"customer_id": "c-1"}]}
        build_review({**SNAPSHOT, "churn_risk": churn}, "week")


def test_ids_appear_only_when_the_channel_is_internal() -> None:
    external = build_review(DOCUMENT, "week")
    internal = with_customer_ids(external, True)
    shown = ", ".join(SMB[:IDS_SHOWN]) + " and 5 more"
    assert f"| smb | 25 | {shown} |" in to_markdown(internal, USD)
    assert "| enterprise | 1 | ent-9 |" in to_markdown(internal, USD)
    assert '<td class="ids">ent-9</td>' in to_html(internal, USD)
    assert to_json(internal)["at_risk_customer_ids"]["smb"] == SMB  # JSON: every id
    for text in (to_markdown(external, USD), to_html(external, USD), str(to_json(external))):
        assert "cust-" not in text and "ent-9" not in text
    assert "| smb | 25 |" in to_markdown(external, USD)


def test_slack_lists_ids_per_segment_for_an_internal_channel() -> None:
    config = ThresholdsConfig()
    review = build_review(DOCUMENT, "week")
    internal = str(slack_message(with_customer_ids(review, True), USD, config.links))
    assert f"• smb 25: {', '.join(SMB[:IDS_SHOWN])} and 5 more" in internal
    external = str(slack_message(review, USD, config.links))
    assert "enterprise 1, smb 25" in external and "cust-" not in external


def test_ids_missing_from_kpis_are_said_to_be_missing() -> None:
    review = with_customer_ids(build_review(with_customers(None), "week"), True)
    assert f"| smb | 3 | {IDS_NOT_LISTED} |" in to_markdown(review, USD)
    assert to_json(review)["at_risk_customer_ids"] is None
