"""Webhook ingest: verify a CRM's request, translate its payload to canonical events, send them.

One module per CRM adapter (pure: body bytes -> canonical event dicts), `signatures` for
authentication and `endpoint` for the aiohttp route `POST /ingest/{source}`.
"""
