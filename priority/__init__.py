"""The priority engine: formulas, the set-based recompute, explanations and history.

It sits above the roadmap and feedback: it reads features (and writes their score
columns, ranks and history, which the roadmap stores) and reads feedback's demand.
Neither domain imports it; the roadmap sends its recompute task by name.
"""
