"""The Salesforce preset without a broker: columns, value maps, dates, bad rows, and the
ids the webhook adapter gives the same facts."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.backfill.load import Backfill
from streams.http.ingest import salesforce as webhook
from tests.streams.backfill.reading import events_of, read_exports

LEAD, DEAL, CASE = "00Q5e00000AAAA1EAA", "0065e00000OPP01AAA", "5005e00000CAS01AAA"
TASK, MEETING, OWNER = "00T5e00000TSK01AAA", "00U5e00000EVT01AAA", "0055e000003XYZ1AAA"

LEADS = (
    "Id,LastName,Status,LeadSource,CreatedDate,IsConverted,ConvertedDate,ConvertedAccountId\n"
    f"{LEAD},Doe,Closed - Converted,Partner Referral,2026-03-09T08:00:00.000Z,true,"
    "2026-03-12,0015e00000ACCT1AAA\n"
)
LEAD_HISTORY = (
    "Id,LeadId,CreatedById,CreatedDate,Field,OldValue,NewValue\n"
    f"0175e0000001,{LEAD},{OWNER},2026-03-09T10:00:00.000Z,Status,Open,Working - Contacted\n"
    f"0175e0000002,{LEAD},{OWNER},2026-03-10T10:00:00.000Z,Rating,,Hot\n"
    f"0175e0000003,{LEAD},{OWNER},2026-03-11T10:00:00.000Z,Status,Working - Contacted,"
    "Qualified\n"
)
OPPORTUNITIES = (
    "Id,Name,StageName,Amount,CreatedDate,CloseDate,IsClosed,IsWon,OwnerId,LeadSource,"
    "Team__c,Loss_Reason__c\n"
    f"{DEAL},Big,Closed Won,24000,2026-03-09T12:00:00.000Z,2026-03-13,true,true,{OWNER},Web,"
    "EMEA,\n"
    f"0065e00000OPP02AAA,Small,Closed Lost,100,2026-03-09T12:30:00.000Z,2026-03-09,true,false,"
    f"{OWNER},,,Price Too High\n"
    f"0065e00000OPP03AAA,Open,Prospecting,50,2026-03-10T09:00:00.000Z,2026-04-30,false,false,"
    f"{OWNER},,,\n"
)
OPPORTUNITY_HISTORY = (
    "Id,OpportunityId,CreatedDate,StageName,Amount\n"
    f"0085e0000001,{DEAL},2026-03-09T12:00:00.000Z,Prospecting,20000\n"
    f"0085e0000002,{DEAL},2026-03-10T12:00:00.000Z,Negotiation/Review,24000\n"
    f"0085e0000003,{DEAL},2026-03-13T12:00:00.000Z,Closed Won,24000\n"
)
CASES = (
    "Id,CaseNumber,Status,Priority,Team__c,AccountId,CreatedDate,IsClosed,ClosedDate\n"
    f"{CASE},00001001,Closed,Critical,Support EU,0015e00000ACCT1AAA,2026-03-10T08:00:00.000Z,"
    "true,2026-03-10T14:00:00.000Z\n"
    "5005e00000CAS02AAA,00001002,Working,Low,,,2026-03-10T09:00:00.000Z,false,\n"
)
TASKS = (
    f"Id,Subject,TaskSubtype,OwnerId,CreatedDate\n{TASK},Call,Call,{OWNER},"
    "2026-03-09T09:00:00.000Z\n"
)
EVENTS = f"Id,Subject,OwnerId,CreatedDate\n{MEETING},Demo,{OWNER},2026-03-10T15:00:00.000Z\n"
EXPORTS = {
    "leads.csv": LEADS,
    "lead_history.csv": LEAD_HISTORY,
    "opportunities.csv": OPPORTUNITIES,
    "opportunity_history.csv": OPPORTUNITY_HISTORY,
    "cases.csv": CASES,
    "tasks.csv": TASKS,
    "events.csv": EVENTS,
}


def _of(found: Backfill, kind: str) -> list[dict[str, object]]:
    return [event for event in events_of(found) if event["type"] == kind]


def test_each_export_gives_its_events_from_the_api_field_names(tmp_path: Path) -> None:
    found = read_exports(tmp_path, "salesforce", EXPORTS)
    assert found.refused == []
    assert [(e["type"], e["occurred_at"]) for e in events_of(found) if e.get("lead_id")] == [
        ("lead.created", "2026-03-09T08:00:00Z"),
        ("lead.contacted", "2026-03-09T10:00:00Z"),
        ("lead.qualified", "2026-03-11T10:00:00Z"),
        ("lead.converted", "2026-03-12T00:00:00Z"),
    ]
    assert _of(found, "lead.contacted")[0] == {
        "event_id": f"salesforce-lead-{LEAD}-contacted-1773050400000",
        "type": "lead.contacted",
        "occurred_at": "2026-03-09T10:00:00Z",
        "source": "salesforce",
        "rep": OWNER,
        "team": "unassigned",
        "lead_id": LEAD,
    }
    assert _of(found, "lead.created")[0]["channel"] == "partner_referral"
    assert _of(found, "lead.converted")[0]["customer_id"] == "0015e00000ACCT1AAA"
    assert _of(found, "opportunity.created")[0] == {
        "event_id": f"salesforce-opportunity-{DEAL}-created",
        "type": "opportunity.created",
        "occurred_at": "2026-03-09T12:00:00Z",
        "source": "salesforce",
        "amount": 24000.0,
        "stage": "new",
        "rep": OWNER,
        "team": "emea",
        "channel": "web",
        "opportunity_id": DEAL,
    }
    assert [(e["type"], e.get("reason")) for e in events_of(found) if "ticket_id" in e] == [
        ("ticket.opened", None),
        ("ticket.opened", None),
        ("ticket.resolved", None),
    ]
    opened = _of(found, "ticket.opened")
    assert [(e["priority"], e["team"], e.get("customer_id")) for e in opened] == [
        ("urgent", "support_eu", "0015e00000ACCT1AAA"),
        ("low", "unassigned", None),
    ]
    activities = _of(found, "activity.logged")
    assert [(e["activity_id"], e["kind"], e["rep"]) for e in activities] == [
        (TASK, "call", OWNER),
        (MEETING, "meeting", OWNER),
    ]


def test_opportunities_close_on_their_close_date_and_history_gives_open_stages(
    tmp_path: Path,
) -> None:
    found = read_exports(
        tmp_path,
        "salesforce",
        {"opportunities.csv": OPPORTUNITIES, "opportunity_history.csv": OPPORTUNITY_HISTORY},
    )
    assert [(e["type"], e.get("stage"), e["occurred_at"]) for e in events_of(found)] == [
        ("opportunity.created", "new", "2026-03-09T12:00:00Z"),
        ("opportunity.stage_changed", "prospecting", "2026-03-09T12:00:00Z"),
        ("opportunity.created", "new", "2026-03-09T12:30:00Z"),
        # closed on its creation day: at the creation, not at that day's midnight before it
        ("opportunity.lost", None, "2026-03-09T12:30:00Z"),
        ("opportunity.created", "new", "2026-03-10T09:00:00Z"),
        ("opportunity.stage_changed", "negotiation_review", "2026-03-10T12:00:00Z"),
        ("opportunity.won", None, "2026-03-13T00:00:00Z"),
    ]
    assert _of(found, "opportunity.lost")[0]["reason"] == "price_too_high"


def test_report_exports_dates_and_checkboxes_are_read(tmp_path: Path) -> None:
    cases = (
        "Id,Priority,CreatedDate,IsClosed,ClosedDate\n"
        "500A,Medium,3/2/2026 9:05 AM,1,3/2/2026 1:35 PM\n"
        "500B,High,03/02/2026 10:00,0,\n"
    )
    found = read_exports(tmp_path, "salesforce", {"cases.csv": cases})
    assert [(e["type"], e["ticket_id"], e["occurred_at"]) for e in events_of(found)] == [
        ("ticket.opened", "500A", "2026-03-02T09:05:00Z"),
        ("ticket.opened", "500B", "2026-03-02T10:00:00Z"),
        ("ticket.resolved", "500A", "2026-03-02T13:35:00Z"),
    ]
    assert [e["priority"] for e in _of(found, "ticket.opened")] == ["normal", "high"]


def test_bad_rows_are_refused_in_one_line_each_and_nothing_else_is_lost(tmp_path: Path) -> None:
    opportunities = (
        "Id,StageName,Amount,CreatedDate,CloseDate,IsClosed,IsWon,OwnerId\n"
        f'{DEAL},Closed Won,"24,000",2026-03-09T12:00:00.000Z,2026-03-13,true,true,{OWNER}\n'
        f"0065e00000OPP02AAA,Prospecting,10,2026-03-09T12:00:00.000Z,13.03.2026,false,false,\n"
        f",Prospecting,10,2026-03-09T12:00:00.000Z,,false,false,{OWNER}\n"
        f"0065e00000OPP04AAA,Prospecting,10,2026-03-09 12:00,,false,false,{OWNER}\n"
    )
    history = (
        "Id,OpportunityId,CreatedDate,StageName\n"
        "0085e0000001,0065e00000OPP04AAA,2026-03-10T12:00:00.000Z,\n"
        "0085e0000002,0065e00000OPP04AAA,yesterday,Prospecting\n"
    )
    cases = "Id,Priority,CreatedDate\n500A,Severe,2026-03-10T08:00:00.000Z\n"
    found = read_exports(
        tmp_path,
        "salesforce",
        {
            "opportunities.csv": opportunities,
            "opportunity_history.csv": history,
            "cases.csv": cases,
        },
    )
    assert [refused.message for refused in found.refused] == [
        'opportunities.csv:2: Amount "24,000" is not a number',
        "opportunities.csv:4: Id is empty",
        "opportunity_history.csv:2: StageName is empty",
        'opportunity_history.csv:3: CreatedDate "yesterday" is not a date or time (ISO 8601,'
        " %m/%d/%Y %I:%M %p, %m/%d/%Y %H:%M, %m/%d/%Y)",
        "cases.csv:2: ticket.opened: Invalid enum value 'Severe' - at `$.priority`",
    ]
    assert [(e["type"], e["opportunity_id"]) for e in events_of(found)] == [
        ("opportunity.created", "0065e00000OPP02AAA"),
        ("opportunity.created", "0065e00000OPP04AAA"),
    ]


def _change(entity: str, change: str, record: str, at: int, **fields: object) -> object:
    header = {
        "entityName": entity,
        "changeType": change,
        "commitTimestamp": at,
        "recordIds": [record],
        "changedFields": list(fields),
    }
    return {"ChangeEventHeader": header, **fields}


def test_webhook_and_export_give_one_fact_the_same_event_id(tmp_path: Path) -> None:
    """Every fact both see: creations, status and stage changes, conversions, case closes,
    activities. A close of an opportunity is not seen alike: its CloseDate is a date."""
    ms = {
        "lead": 1_773_043_200_000,  # 2026-03-09T08:00:00Z
        "contacted": 1_773_050_400_000,
        "qualified": 1_773_223_200_000,  # 2026-03-11T10:00:00Z
        "converted": 1_773_316_800_000,  # 2026-03-12T12:00:00Z
        "deal": 1_773_057_600_000,  # 2026-03-09T12:00:00Z
        "stage": 1_773_144_000_000,  # 2026-03-10T12:00:00Z
        "case": 1_773_129_600_000,  # 2026-03-10T08:00:00Z
        "closed": 1_773_151_200_000,  # 2026-03-10T14:00:00Z
        "task": 1_773_046_800_000,  # 2026-03-09T09:00:00Z
        "meeting": 1_773_154_800_000,  # 2026-03-10T15:00:00Z
    }
    changes = [
        _change("Lead", "CREATE", LEAD, ms["lead"], LeadSource="Partner Referral"),
        _change("Lead", "UPDATE", LEAD, ms["contacted"], Status="Working - Contacted"),
        _change("Lead", "UPDATE", LEAD, ms["qualified"], Status="Qualified"),
        _change("Lead", "UPDATE", LEAD, ms["converted"], IsConverted=True),
        _change("Opportunity", "CREATE", DEAL, ms["deal"], StageName="Prospecting", Amount=1),
        _change("Opportunity", "UPDATE", DEAL, ms["stage"], StageName="Negotiation/Review"),
        _change("Case", "CREATE", CASE, ms["case"], Priority="High"),
        _change("Case", "UPDATE", CASE, ms["closed"], Status="Closed"),
        _change("Task", "CREATE", TASK, ms["task"], TaskSubtype="Call"),
        _change("Event", "CREATE", MEETING, ms["meeting"]),
    ]
    items = webhook.adapt(orjson.dumps(changes))
    from_webhook = {(e["type"], e["event_id"]) for item in items for e in item.events}
    from_export = {
        (e["type"], e["event_id"]) for e in events_of(read_exports(tmp_path, "salesforce", EXPORTS))
    }
    assert len(from_webhook) == 10
    assert from_webhook <= from_export
