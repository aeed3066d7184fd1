"""Benchmarks: `python -m bench [scenario...]`. Not part of the test suite."""
