"""Fault scripts: each runs a real stack on loopback (its own database and Redis server),
injects one fault from outside, checks what survived and prints its figures.

Run one with ``.venv/bin/python -m tests.faults.<script>``; ``make faults`` runs them all.
These are scripts, not pytest tests (no ``test_`` names), so the suite never collects them.
"""
