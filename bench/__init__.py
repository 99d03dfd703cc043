"""Benchmarks: not tests; each writes JSON and a line in BENCHMARKS.md."""
