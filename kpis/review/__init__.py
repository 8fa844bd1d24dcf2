"""The periodic review: a week's or a month's KPIs from a `/kpis` snapshot, and its renderings."""
