"""The Salesforce records crmkpi reads from a change event, as msgspec Structs."""

from __future__ import annotations

from msgspec import Struct

from streams.http.ingest.payload import RawAmount, Text, label, text

UNASSIGNED = "unassigned"
PRIORITIES = {  # Case priorities (labels) as canonical ones
    "low": "low",
    "medium": "normal",
    "high": "high",
    "critical": "urgent",
    "urgent": "urgent",
}


class Record(Struct):
    """Record fields every handled entity may carry."""

    OwnerId: Text = None
    Team__c: Text = None  # optional custom field carrying the team; Salesforce has none built in

    @property
    def rep(self) -> str:
        return text(self.OwnerId) or "unknown"

    @property
    def team(self) -> str:
        return label(self.Team__c) or UNASSIGNED


class Lead(Record):
    LeadSource: Text = None
    Status: Text = None
    IsConverted: bool | None = None
    ConvertedAccountId: Text = None


class Opportunity(Record):
    Amount: RawAmount = None
    StageName: Text = None
    LeadSource: Text = None
    IsWon: bool | None = None
    IsClosed: bool | None = None
    Loss_Reason__c: Text = None


class Case(Record):
    Priority: Text = None
    Status: Text = None
    AccountId: Text = None


class Activity(Record):
    TaskSubtype: Text = None
    WhoId: Text = None
    WhatId: Text = None
