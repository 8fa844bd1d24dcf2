"""The live scorecard page the monitor serves at `/`: every KPI as a tile, pushed by SSE."""

from streams.http.scorecard.routes import add_scorecard

__all__ = ["add_scorecard"]
