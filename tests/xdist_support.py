"""The suite under pytest-xdist (``make test`` runs ``pytest -n 2``): one log file for the run.

What each worker needs apart from the other:

* its own test database: pytest-django names it ``test_<name>_gw0``, ``test_<name>_gw1``...;
* its own Celery queue on the shared broker: ``productops/test_settings.py`` names it
  ``productops-test-<worker id>``, so one worker's purge, queue count or real worker never
  sees the other's messages (the result backend's keys are task ids, unique anyway);
* its own log file. With ``--log-file=PATH`` every worker would open PATH with mode ``w``
  and the two would truncate and overwrite each other's records. So each worker writes
  ``<PATH stem>.<worker id><PATH suffix>`` (``var/ci-test.gw0.log``) instead, and when the
  workers are done the controller appends each worker's file to PATH, under a header line,
  and deletes it: PATH then holds every record of the run, as without xdist, and
  ``scripts/check_logs_for_secrets.py PATH`` reads all of them.

Without xdist (``-n 0``, ``-p no:xdist``, a pytest run started by a test) it does nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

#: The first line of each worker's part of the merged log file.
WORKER_HEADER = "==== pytest-xdist worker {worker}: the records of {path} ===="


def _log_file(config: pytest.Config) -> str | None:
    value = config.getoption("log_file", None) or config.getini("log_file")
    return str(value) if value and value != os.devnull else None


def worker_log_path(path: str | os.PathLike[str], worker: str) -> Path:
    """``var/ci-test.log`` → ``var/ci-test.gw0.log`` (absolute, from the current directory)."""
    path = Path(os.path.abspath(path))
    return path.with_name(f"{path.stem}.{worker}{path.suffix}")


def _is_xdist_controller(config: pytest.Config) -> bool:
    # As xdist decides it in its pytest_cmdline_main (dsession is registered later).
    return (
        not hasattr(config, "workerinput")
        and config.getoption("dist", "no") != "no"
        and bool(config.getoption("tx", None))
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Before pytest's logging plugin opens the file (its pytest_configure is trylast).
    path = _log_file(config)
    if path is None:
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config.option.log_file = str(worker_log_path(path, workerinput["workerid"]))
        return
    if _is_xdist_controller(config):
        # Left behind by an interrupted run: never merge another run's records.
        pattern = worker_log_path(path, "gw*")
        for stale in pattern.parent.glob(pattern.name):
            stale.unlink()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # After xdist's own pytest_sessionfinish has shut the workers down.
    config = session.config
    path = _log_file(config)
    if path is None or not _is_xdist_controller(config):
        return
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    handler: logging.FileHandler | None = getattr(plugin, "log_file_handler", None)
    if handler is None:
        return
    pattern = worker_log_path(path, "gw*")
    parts = sorted(pattern.parent.glob(pattern.name), key=lambda p: (len(p.name), p.name))
    handler.acquire()
    try:
        # Appended through the controller's own handler (never a second descriptor on the
        # file, which would write over it), reopened in append mode if something closed it.
        handler.mode = "a"
        if handler.stream is None:
            handler.stream = handler._open()
        for part in parts:
            worker = part.name.removeprefix(Path(path).stem + ".").removesuffix(Path(path).suffix)
            handler.stream.write(WORKER_HEADER.format(worker=worker, path=part) + "\n")
            with part.open("r", encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    handler.stream.write(line)
            handler.stream.flush()
            part.unlink()
    finally:
        handler.release()
