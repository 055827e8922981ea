"""What ``.ci/run`` runs: fault scripts 1, 2, 5 and 6, two at a time, within 5 minutes.

    .venv/bin/python -m tests.faults.ci

Scripts 3 (Redis outage) and 4 (database blackhole) run with ``make faults`` only: each
holds its fault for tens of seconds by design. Two scripts at a time, because most of a
script's time is waiting (for a sweep, a lease, a worker start) rather than CPU.
"""

from __future__ import annotations

import sys

from tests.faults.run import main

# Longest first, so the two lanes end close together.
CI_SCRIPTS = ["vote_race", "recompute_kill", "outbox_kill", "webhook_replay"]
BUDGET_SECONDS = 300

if __name__ == "__main__":
    sys.exit(main([*CI_SCRIPTS, "--jobs", "2", "--budget", str(BUDGET_SECONDS), *sys.argv[1:]]))
