"""Delivering the periodic review (kpis.review) to Slack and email, and its schedule."""
