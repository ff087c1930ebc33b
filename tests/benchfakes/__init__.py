"""Benchmark modules for tests/test_bench_harness.py only: one that measures, two that fail."""
