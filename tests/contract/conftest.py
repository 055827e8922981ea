"""Fixtures of the schemathesis contract tests (``make contract``).

- ``contract_data`` seeds the ``contract`` workspace once for the module, inside a
  transaction that is rolled back after the last test; each test then runs in a
  savepoint of it (pytest-django's ``db``), and each generated example in a savepoint
  of that, so every request starts from the seeded rows whatever earlier ones deleted.
- ``contract_recorder`` collects every check failure of every example of one test (one
  operation, one role) instead of stopping at the first: Hypothesis then neither
  stops early nor shrinks, so each run sends the same requests and reports all it
  found. ``pytest_runtest_call`` below fails the test with the grouped failures.
- With ``CONTRACT_REPORT=path`` each test appends one JSON line to ``path`` (its node
  id, examples, statuses, failures grouped by check and signature) for summaries.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from schemathesis.core.failures import Failure

from productops import services as core_services
from tests.contract.seed import ContractData, seed

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def contract_data(django_db_setup, django_db_blocker) -> Iterator[ContractData]:
    with django_db_blocker.unblock(), transaction.atomic():
        data = seed()
        yield data
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def _keep_connection_in_test_transaction() -> Iterator[None]:
    # The WSGI handler closes "old" connections when a request starts and finishes,
    # which inside the test transaction would break it (Django's test client
    # disconnects the same receivers); schemathesis calls the WSGI app directly.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def _quiet_request_log() -> Iterator[None]:
    # Thousands of expected 4xx would each log a warning; 5xx are still logged.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _contract_environment(
    settings, monkeypatch, _keep_connection_in_test_transaction, _quiet_request_log
) -> None:
    # schemathesis' WSGI transport sends `Host: localhost`.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    # The seed marks its tokens used; every example's savepoint is rolled back, so the
    # once-a-minute "last used" write would otherwise be redone by every request.
    monkeypatch.setattr(core_services, "TOKEN_LAST_USED_RESOLUTION_SECONDS", 10**9)


@dataclass
class Finding:
    check: str
    signature: str
    status: int
    request: str
    detail: str


@dataclass
class ContractRecorder:
    """Every failure of one test's examples, grouped by check and signature."""

    nodeid: str
    examples: int = 0
    failing_examples: int = 0
    statuses: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    server_exception: str | None = None

    def on_request_exception(self, sender, request=None, **kwargs) -> None:
        exc_type, exc, tb = sys.exc_info()
        if exc is None:
            return
        # Where in our code it was raised: the innermost frame outside the virtualenv.
        ours = [f for f in traceback.extract_tb(tb) if f.filename.startswith(str(REPO_ROOT) + "/")]
        ours = [f for f in ours if "/.venv/" not in f.filename]
        where = ""
        if ours:
            last = ours[-1]
            where = f" at {Path(last.filename).relative_to(REPO_ROOT)}:{last.lineno} ({last.name})"
        first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
        # Quoted values (generated input) would split one bug into many signatures.
        first_line = re.sub(r"'[^']*'", "'…'", first_line)
        self.server_exception = f"{exc_type.__name__}: {first_line}{where}"

    def record(self, response, failures: list[tuple[str, Failure]]) -> None:
        """One example's response and the checks it failed."""
        self.examples += 1
        self.statuses[response.status_code] += 1
        if failures:
            self.failing_examples += 1
        request = f"{response.request.method} {response.request.url.removeprefix('http://localhost')}"
        for check, failure in failures:
            self.findings.append(
                Finding(
                    check=check,
                    signature=self._signature(check, failure, response),
                    status=response.status_code,
                    request=request[:300],
                    detail=_detail(check, failure, response, self.server_exception),
                )
            )
        self.server_exception = None

    def _signature(self, check: str, failure: Failure, response) -> str:
        message = (failure.message or "").strip()
        if check == "not_a_server_error" and self.server_exception:
            return f"{response.status_code} {self.server_exception}"
        if check == "status_code_conformance":
            return f"undocumented status {response.status_code}"
        if check == "response_schema_conformance":
            return f"{response.status_code} {_schema_error(message)}"
        return f"{failure.title}: {message.splitlines()[0] if message else ''}"

    def groups(self) -> list[tuple[tuple[str, str], list[Finding]]]:
        grouped: dict[tuple[str, str], list[Finding]] = {}
        for finding in self.findings:
            grouped.setdefault((finding.check, finding.signature), []).append(finding)
        return sorted(grouped.items(), key=lambda item: (item[0][0], -len(item[1]), item[0][1]))

    def report(self) -> str:
        lines = [
            f"{self.failing_examples} of {self.examples} examples failed "
            f"(statuses: {', '.join(f'{code}×{n}' for code, n in sorted(self.statuses.items()))})"
        ]
        for (check, signature), findings in self.groups():
            first = findings[0]
            lines.append(f"- {check} ×{len(findings)}: {signature}")
            lines.append(f"    e.g. {first.request} -> {first.status}")
            if first.detail:
                lines.extend(f"    {line}" for line in first.detail.splitlines()[:12])
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {
            "nodeid": self.nodeid,
            "examples": self.examples,
            "failing_examples": self.failing_examples,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "groups": [
                {
                    "check": check,
                    "signature": signature,
                    "count": len(findings),
                    "example": findings[0].request,
                    "status": findings[0].status,
                    "detail": findings[0].detail[:2000],
                }
                for (check, signature), findings in self.groups()
            ],
        }


def _detail(check: str, failure: Failure, response, server_exception: str | None) -> str:
    message = (failure.message or "").strip()
    if check == "not_a_server_error" and server_exception:
        message = f"{message}\nraised: {server_exception}"
    if check in ("status_code_conformance", "not_a_server_error", "viewer_write_forbidden"):
        return f"{message}\nbody: {response.text[:300]}"
    return message


def _schema_error(message: str) -> str:
    """The validation error and the schema it broke, from a response_schema_conformance message."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    error = lines[0] if lines else ""
    if error.startswith(("{", "[")) and " ... is " in error:
        # The failing value itself (truncated) differs from response to response.
        error = "<value>" + error[error.index(" ... is ") + 4 :]
    where = next((line.rstrip(":") for line in lines if line.startswith("Schema at")), "")
    return f"{error} ({where})" if where else error


@pytest.fixture
def contract_recorder(request) -> Iterator[ContractRecorder]:
    recorder = ContractRecorder(nodeid=request.node.nodeid)
    got_request_exception.connect(recorder.on_request_exception)
    yield recorder
    got_request_exception.disconnect(recorder.on_request_exception)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    recorder = getattr(item, "funcargs", {}).get("contract_recorder")
    if not isinstance(recorder, ContractRecorder):
        return result
    path = os.environ.get("CONTRACT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(recorder.as_json()) + "\n")
    if recorder.findings:
        pytest.fail(recorder.report(), pytrace=False)
    return result
