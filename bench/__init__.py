"""Benchmarks: commands that print figures and ratios (never timed tests).

Run with ``make bench BENCH_ARGS="priority_recompute"`` or ``python -m bench priority_recompute``.
"""
