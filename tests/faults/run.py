"""Run fault scripts and print one table of their results (``make faults`` runs all six).

    .venv/bin/python -m tests.faults.run [script ...] [--jobs N] [--budget SECONDS]

Each script runs as its own process (``python -m tests.faults.<script>``), with its output
in ``--out`` (default a temp dir: ``<script>.log``). ``--jobs`` runs that many at once (each
has its own stack, so they do not share a database, Redis or port). Exits non-zero if a
script failed, or if ``--budget`` is given and the whole run took longer.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
ALL = ["recompute_kill", "outbox_kill", "redis_outage", "db_blackhole", "webhook_replay", "vote_race"]
_children: list[subprocess.Popen] = []


def run_one(name: str, out: Path, timeout: float) -> dict:
    log = out / f"{name}.log"
    started = time.monotonic()
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [PYTHON, "-m", f"tests.faults.{name}"], cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        _children.append(process)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM: the script's handler tears its stack down.
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    seconds = time.monotonic() - started
    summary = {"script": name, "passed": False, "figures": {}, "failed": ["no summary"]}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("FAULTS_SUMMARY "):
            summary = json.loads(line.removeprefix("FAULTS_SUMMARY "))
    summary["exit_code"] = code
    summary["wall_s"] = round(seconds, 1)
    summary["passed"] = summary.get("passed") and code == 0
    summary["log"] = str(log)
    print(f"  {name}: {'passed' if summary['passed'] else 'FAILED'} in {seconds:.0f}s ({log})", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.run")
    parser.add_argument("scripts", nargs="*", help=f"some of {', '.join(ALL)} (default: all)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--budget", type=float, default=0, help="fail if the whole run takes longer (s)")
    parser.add_argument("--timeout", type=float, default=900, help="per script (s)")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    names = args.scripts or ALL
    unknown = sorted(set(names) - set(ALL))
    if unknown:
        parser.error(f"unknown scripts {unknown}; choose from {ALL}")
    out = Path(args.out or tempfile.mkdtemp(prefix="faults_run_"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"fault scripts: {', '.join(names)} ({args.jobs} at a time; logs in {out})", flush=True)
    started = time.monotonic()

    def stop_children(signum: int, frame: object) -> None:
        for child in _children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop_children)
    signal.signal(signal.SIGINT, stop_children)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda name: run_one(name, out, args.timeout), names))
    total = time.monotonic() - started
    print("\n| script | result | wall time | figures |\n| --- | --- | --- | --- |")
    for result in results:
        figures = "; ".join(f"{k}: {v}" for k, v in result.get("figures", {}).items())
        verdict = "passed" if result["passed"] else "FAILED: " + "; ".join(result.get("failed") or [])
        print(f"| {result['script']} | {verdict} | {result['wall_s']:.0f} s | {figures} |")
    over = bool(args.budget) and total > args.budget
    print(
        f"\nall: {total:.0f}s"
        + (f" (budget {args.budget:.0f}s{', EXCEEDED' if over else ''})" if args.budget else "")
    )
    return 1 if over or not all(r["passed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
