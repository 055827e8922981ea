"""Contract tests: every operation of the OpenAPI schema, fuzzed by schemathesis.

The schema is loaded in-process from the WSGI app (``/api/schema/``, which needs no
login). Each operation runs twice, with the bearer token of an admin and of a viewer
of the seeded ``contract`` workspace (see ``seed.py``), with schemathesis' examples,
coverage and fuzzing phases (25 fuzzed examples, derandomised). Each response is
checked for:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status is one the schema documents;
- ``content_type_conformance``: the ``Content-Type`` is one the schema documents;
- ``response_schema_conformance``: the body matches the documented schema;
- ``unsupported_method``: a method the schema does not list answers 405 (coverage phase);
- ``viewer_write_forbidden`` (ours): as a viewer, every write answers 403 (or 404 when
  the path names no seeded row), except the few writes a viewer may make
  (``VIEWER_WRITES``).

Path parameters, and ids in queries and JSON bodies, are aimed at seeded rows
(``ContractData.resolve_path_parameters`` / ``resolve_fields``), so most requests get
past the 404 (and the 400 ``does_not_exist``). Every example runs in a savepoint that
is rolled back, so each starts from the seeded data. Run with ``make contract``.

The generated requests are the same from run to run and database to database. With
``derandomize`` Hypothesis seeds each test from its node id and the test function's
source, so editing ``test_api_conforms_to_its_schema`` (or the schema) changes them.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from django.test.utils import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from productops.models import Role

pytestmark = pytest.mark.contract

SCHEMA_PATH = "/api/schema/?format=json"
MAX_EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes a viewer may make (so they need not answer 403), and why.
VIEWER_WRITES = {
    # Writes nothing: similar feedback while someone types.
    ("POST", "/api/v1/workspaces/{workspace_slug}/feedback/similar/"),
    # Anyone may leave the workspace (their own membership).
    ("DELETE", "/api/v1/workspaces/{workspace_slug}/members/{id}/"),
    # Anyone may revoke their own tokens.
    ("DELETE", "/api/v1/workspaces/{workspace_slug}/tokens/{id}/"),
    # Any member saves views of the roadmap for themselves, and renames or deletes their own.
    ("POST", "/api/v1/workspaces/{workspace_slug}/saved-views/"),
    ("PATCH", "/api/v1/workspaces/{workspace_slug}/saved-views/{id}/"),
    ("DELETE", "/api/v1/workspaces/{workspace_slug}/saved-views/{id}/"),
    # Signed by the webhook's secret, not a member's token: 401 without a signature.
    ("POST", "/api/v1/inbound/{public_id}/"),
}


# Only what the schema says shapes the generated data: no constants mined from the
# code, no generated credentials (each role sends its bearer token), no stateful phase.
CONFIG = {
    "generation": {"with-security-parameters": False},
    "analysis": {"constants": {"enabled": False}},
    "phases": {"stateful": {"enabled": False}},
}


# POST .../feedback/inbound-email/ takes the raw message as `message/rfc822` (or text/plain).
schemathesis.serializer.alias("message/rfc822", "text/plain")


def _load_schema():
    app = get_wsgi_application()
    # Collection runs before pytest-django's test environment allows any host.
    with override_settings(ALLOWED_HOSTS=["localhost"]):
        return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app, config=schemathesis.Config.from_dict(CONFIG))


schema = _load_schema()


@schema.parametrize()
@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER], ids=["admin", "viewer"])
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, role, db, contract_data, contract_recorder):
    case = case.derive(keep_auth=True)
    case.path_parameters = contract_data.resolve_path_parameters(case.path, case.path_parameters)
    if case.query:
        case.query = contract_data.resolve_fields(case.path, case.query)
    if isinstance(case.body, dict):
        case.body = contract_data.resolve_fields(case.path, case.body)
    headers = {"Authorization": f"Bearer {contract_data.keys[role]}"}
    with transaction.atomic():
        response = case.call(headers=headers)
        failures: list[tuple[str, Failure]] = []
        for check in CHECKS:
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except FailureGroup as group:
                failures.extend((check.__name__, failure) for failure in group.exceptions)
        failure = _viewer_write_forbidden(case, response, role, contract_data)
        if failure is not None:
            failures.append(("viewer_write_forbidden", failure))
        # Each example starts from the seeded rows, whatever this one wrote.
        transaction.set_rollback(True)
    contract_recorder.record(response, failures)


def _viewer_write_forbidden(case, response, role, data) -> Failure | None:
    """A viewer's write is refused: 403, or 404 when the path names no seeded row."""
    method = case.operation.method.upper()
    if role != Role.VIEWER or method not in WRITE_METHODS or response.request.method != method:
        return None
    if (method, case.operation.path) in VIEWER_WRITES or response.status_code == 403:
        return None
    if response.status_code == 404 and not data.names_seeded_rows(case.path, case.path_parameters):
        return None
    return Failure(
        operation=case.operation.label,
        title="Viewer write not refused",
        message=f"Expected 403 for a viewer's {method}, got {response.status_code}",
    )
