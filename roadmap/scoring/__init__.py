"""The priority engine: published formulas, the set-based recompute, explanations."""
