"""tests/xdist_support.py: under ``pytest -n 2 --log-file=PATH`` PATH holds every worker's records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import canaries
from tests.error_reports import REPORT_MARKER
from tests.xdist_support import WORKER_HEADER, worker_log_path

ROOT = Path(__file__).resolve().parents[1]

PROBES = """
import logging
import os


def _probe(n):
    logging.getLogger("probe").warning("probe %s from %s", n, os.environ.get("PYTEST_XDIST_WORKER", "main"))


def test_one():
    _probe(1)


def test_two():
    _probe(2)


def test_three():
    _probe(3)


def test_four():
    _probe(4)
"""


def _run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_probes.py").write_text(PROBES)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's: no Django here
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "tests.xdist_support",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
            str(tmp_path / "test_probes.py"),
        ],
        cwd=ROOT,  # `python -m` puts it on sys.path, so `tests.xdist_support` imports
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_two_workers_write_one_log_file_with_every_record(tmp_path):
    log = tmp_path / "logs" / "run.log"
    log.parent.mkdir()
    stale = worker_log_path(log, "gw1")
    stale.write_text("WARNING probe: a record of an interrupted earlier run\n")

    run = _run_pytest(tmp_path, "-n", "2", "--dist", "worksteal", f"--log-file={log}")

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = log.read_text()
    assert text.count(WORKER_HEADER.format(worker="gw0", path=worker_log_path(log, "gw0"))) == 1
    assert text.count(WORKER_HEADER.format(worker="gw1", path=worker_log_path(log, "gw1"))) == 1
    probes = sorted(line.split("probe ", 1)[1] for line in text.splitlines() if " probe " in line)
    assert [probe.split()[0] for probe in probes] == ["1", "2", "3", "4"]
    assert {probe.split()[-1] for probe in probes} == {"gw0", "gw1"}
    assert "interrupted earlier run" not in text
    assert sorted(p.name for p in log.parent.iterdir()) == ["run.log"]


def test_without_xdist_the_log_file_is_pytest_own(tmp_path):
    log = tmp_path / "run.log"

    run = _run_pytest(tmp_path, "-p", "no:xdist", f"--log-file={log}", "-k", "one")

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = log.read_text()
    assert "probe 1 from main" in text
    assert "==== pytest-xdist worker" not in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".log") == ["run.log"]


def test_the_secrets_check_reads_a_worker_file_left_unmerged(tmp_path):
    log = tmp_path / "ci-test.log"
    log.write_text(f"{REPORT_MARKER}\nPOST:\npassword = '********************'\n")
    worker_log_path(log, "gw1").write_text(f"INFO     productops.api: created token {canaries.API_TOKEN}\n")
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_logs_for_secrets.py"), str(log)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert check.returncode == 1, check.stdout + check.stderr
    assert f"{worker_log_path(log, 'gw1')} was not merged into {log}: checking it too" in check.stdout
    assert f"LEAK: canary 'api_token' found 1 time(s) in {worker_log_path(log, 'gw1')}" in check.stdout
