"""The ingest fixtures: vendor-shaped webhook bodies per CRM and the canonical events expected.

`expected.jsonl` in each directory is written by hand from the mapping table in
docs/ingest.md, in delivery order, never produced by the adapters.
"""

from __future__ import annotations

from pathlib import Path

import orjson

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
SOURCES = ("canonical", "hubspot", "salesforce", "pipedrive", "zendesk")


def bodies(source: str) -> list[tuple[str, bytes]]:
    """(file name, body) of every webhook of a source, in delivery order."""
    return [
        (path.name, path.read_bytes())
        for path in sorted((FIXTURES / source).iterdir())
        if path.name != "expected.jsonl"
    ]


def expected_lines(source: str) -> list[bytes]:
    return (FIXTURES / source / "expected.jsonl").read_bytes().splitlines()


def expected_events(source: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in expected_lines(source)]
