"""Dispatch ``python -m bench <name> [options]`` to ``bench/<name>.py``'s ``main(argv)``."""

import importlib
import sys

BENCHMARKS = ["priority_recompute", "feedback_ingest", "portal_pages", "digests"]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        sys.exit(2)
    importlib.import_module(f"bench.{sys.argv[1]}").main(sys.argv[2:])


if __name__ == "__main__":
    main()
