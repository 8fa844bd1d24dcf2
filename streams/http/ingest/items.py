"""What an adapter makes of a body: one `Item` per change the CRM sent.

An item is translated (it has canonical events), ignored (a kind crmkpi does not
track), or refused (its bytes go to the dead-letter topic with the reason).
`upstream_gap` refusals are changes the CRM itself could not send (Salesforce
`GAP_*`): nothing to translate, a range to backfill (docs/ingest.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kpis.events import Rejection, RejectionReason
from streams.http.ingest.payload import CanonicalEvent

BAD_ITEM: RejectionReason = (
    "bad_payload"  # the item is not what the CRM sends (a field missing or ill-typed)
)
UPSTREAM_GAP: RejectionReason = "upstream_gap"
TRANSLATED, IGNORED, REJECTED, GAP = "translated", "ignored", "rejected", "gap"


@dataclass(frozen=True)
class Item:
    """One change: its kind (`deal.propertyChange`, `Lead.UPDATE`, ...), its original bytes,
    its canonical events, and the refusal that sends it to the dead-letter topic instead."""

    kind: str
    raw: bytes
    events: list[CanonicalEvent] = field(default_factory=list)
    refusal: Rejection | None = None

    @property
    def result(self) -> str:
        """translated, ignored, rejected or gap: the `result` label of the items metric."""
        if self.refusal is not None:
            return GAP if self.refusal.reason == UPSTREAM_GAP else REJECTED
        return TRANSLATED if self.events else IGNORED

    def refused(self, reason: RejectionReason, detail: str) -> Item:
        """This item refused: none of its events is sent."""
        return replace(self, events=[], refusal=Rejection(reason, detail))
