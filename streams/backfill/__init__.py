"""Backfill: a CRM's export files as canonical events (`crmkpi backfill`, docs/backfill.md).

`rows` reads CSV / JSON files as rows, `spec` declares presets, `translate` turns a row into
events, `mapping` applies a YAML mapping file, `load` validates and orders the events,
`guard` checks the monitor's watermark. The CLI (streams/cli/backfill.py) sends them
through the producer `crmkpi produce` uses.

Adding a preset (Salesforce, Pipedrive, Zendesk, ...) is one new module, nothing else:

1. `streams/backfill/presets/<crm>.py` defining `PRESET = Preset(...)`: `source`, the
   `tables` (one per export file kind, named as users will name the files: `deals`,
   `opportunities`, ...), each with its record id column, entity key and `EventRule`s
   (which event, at which time column, `when` a cell is in a named value set, which
   columns give which fields); `date_formats` and `timezone` for the export's dates.
2. `EVENT_IDS = <the webhook adapter's id function>` when streams/http/ingest/<crm>.py
   derives ids from the same facts (extract a module-level function there, as
   `hubspot_event_id`, and call it from both): a fact seen by both counts once.
   `DERIVED_CELLS = <function>` when the rules read cells computed from others (Zendesk:
   a time plus a duration, events from counts).
3. A writer in tests/exports/<crm>.py (canonical events -> the export files, with the
   documented headers) and a round-trip test like tests/integration/test_backfill_hubspot.py,
   plus a section of docs/backfill.md: columns read, what the export cannot carry.
"""
