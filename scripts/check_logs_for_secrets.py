"""Fail if a known test secret reached the logs: the canaries of tests/canaries.py (a
password, an API token, a webhook signing secret) searched for in a test run's log file.

``.venv/bin/python scripts/check_logs_for_secrets.py var/test.log [more files]``

The file is what ``pytest --log-file=var/test.log --log-file-level=DEBUG`` wrote: every
log record of the run, exception text included, plus the error reports
``tests/error_reports.py`` renders (POST data, cookies, headers, frame variables). The
canaries are plain ``[A-Za-z0-9_-]`` strings, so one substring search finds them in plain
and JSON log lines alike. Exit 0 when no canary is found; 1 naming each canary found (file,
line number and the logger's line, cut short); 2 when there is nothing to check: a missing
or empty file, or a file without a single error report (the suite was run without the
plugin, and the search would prove nothing).

Under pytest-xdist (``make test`` runs two workers) each worker writes ``<stem>.gw<N><suffix>``
and ``tests/xdist_support.py`` appends those files to the ``--log-file`` at the end of the run.
A worker file still lying beside a checked file (a run that stopped before the merge) is
checked too, so no worker's records go unread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.canaries import ALL as CANARIES  # noqa: E402
from tests.error_reports import REPORT_MARKER  # noqa: E402

#: Hits shown per canary; the count says how many more there were.
SHOWN_PER_CANARY = 5
EXCERPT = 200


def scan(path: Path, canaries: dict[str, str]) -> tuple[dict[str, list[tuple[int, str]]], int]:
    """``({canary name: [(line number, excerpt)]}, error reports seen)`` for one file."""
    hits: dict[str, list[tuple[int, str]]] = {}
    reports = 0
    # Read as bytes decoded leniently: one undecodable byte must not hide a hit after it.
    with path.open("r", encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if REPORT_MARKER in line:
                reports += 1
            for name, value in canaries.items():
                at = line.find(value)
                if at >= 0:
                    start = max(0, at - EXCERPT // 2)
                    hits.setdefault(name, []).append((number, line[start : start + EXCERPT].strip()))
    return hits, reports


def unmerged_worker_files(path: Path) -> list[Path]:
    """pytest-xdist workers' log files beside ``path`` (``ci-test.gw0.log`` for ``ci-test.log``)."""
    return sorted(path.parent.glob(f"{path.stem}.gw[0-9]*{path.suffix}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="log files of a test run")
    parser.add_argument(
        "--allow-no-reports",
        action="store_true",
        help="do not require an error report in the files (for logs of a run without the plugin)",
    )
    args = parser.parse_args(argv)

    found = False
    reports = 0
    files = list(args.files)
    for path in args.files:
        for extra in unmerged_worker_files(path):
            if extra not in files:
                print(f"check_logs_for_secrets: {extra} was not merged into {path}: checking it too")
                files.append(extra)
    for path in files:
        if not path.is_file() or path.stat().st_size == 0:
            print(f"check_logs_for_secrets: {path} is missing or empty: nothing was checked", file=sys.stderr)
            return 2
        hits, seen = scan(path, CANARIES)
        reports += seen
        for name, where in hits.items():
            found = True
            print(f"LEAK: canary {name!r} found {len(where)} time(s) in {path}")
            for number, excerpt in where[:SHOWN_PER_CANARY]:
                print(f"  {path}:{number}: {excerpt}")
    if found:
        return 1
    if not reports and not args.allow_no_reports:
        print(
            "check_logs_for_secrets: no error report in the log: run pytest with --log-file so "
            "tests/error_reports.py writes them (or pass --allow-no-reports)",
            file=sys.stderr,
        )
        return 2
    names = ", ".join(CANARIES)
    print(f"check_logs_for_secrets: no canary ({names}) in {len(files)} file(s); {reports} error reports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
