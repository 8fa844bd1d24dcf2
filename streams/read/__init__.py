"""The read path: the store of published parts, snapshot reading, Prometheus exposition."""
