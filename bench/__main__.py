"""Dispatch ``python -m bench <name> [options]``.

``suite`` runs the benchmark suite (``bench/suite.py``); ``compare A.json B.json`` prints
two of its result files side by side; any other name runs ``bench/<name>.py``'s
``main(argv)`` alone.
"""

import importlib
import sys

#: The benchmarks of the suite, in the order it runs them: each module's ``suite(ctx)``.
SUITE = [
    "portal_pages",
    "board_home",
    "release_list",
    "digests",
    "priority_recompute",
    "feedback_ingest",
    "feedback_themes",
    "api_load",
]

#: What ``python -m bench <name>`` runs: the suite's benchmarks and the stand-alone ones.
BENCHMARKS = [*SUITE, "slow_clients", "soak", "duplicate_quality", "duplicate_speed"]
COMMANDS = ["suite", "compare"]


def main() -> None:
    names = COMMANDS + BENCHMARKS
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print(f"usage: python -m bench {{{','.join(names)}}} [options]", file=sys.stderr)
        sys.exit(2)
    name, argv = sys.argv[1], sys.argv[2:]
    if name == "suite":
        from bench.suite import main as suite_main

        suite_main(argv)
    elif name == "compare":
        from bench.suite import compare_main

        compare_main(argv)
    else:
        importlib.import_module(f"bench.{name}").main(argv)


if __name__ == "__main__":
    main()
