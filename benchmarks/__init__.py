"""Benchmarks of persidict; run with ``python -m benchmarks``."""
