"""Reproducible benchmarks of the crmkpi worker: throughput, latency, memory, scrape time.

Run `python -m bench` (or `python -m bench --quick` for a smoke run); see bench/README.md.
"""
