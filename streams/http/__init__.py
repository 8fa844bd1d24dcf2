"""The HTTP server: KPIs, metrics, health, webhook ingest and the scorecard page."""
