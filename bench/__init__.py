"""Benchmarks: `python -m bench` measures everything and prints one table."""
