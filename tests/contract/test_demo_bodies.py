"""The demo workspace, read through every list and detail endpoint, matches the schema.

Where the fuzzer (``test_schemathesis.py``) sends odd requests at seeded rows, this reads
what a real install holds (``manage.py seed_demo``): every list (all rows on one page),
every row of every resource through its detail read and its read-only actions, both
roadmap groupings and the capacity fit of every period. Each body must match its
documented schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from productops import services
from productops.models import Membership, Role, Workspace
from roadmap.models import TeamCapacity

pytestmark = pytest.mark.contract

WORKSPACE = "/api/v1/workspaces/{workspace_slug}/"


def _schema():
    with override_settings(ALLOWED_HOSTS=["localhost"]):
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


def _reads(schema) -> list:
    return [
        operation
        for result in schema.get_all_operations()
        if (operation := result.ok()) is not None and operation.method.upper() == "GET"
    ]


@pytest.mark.django_db
def test_every_read_of_the_demo_workspace_matches_the_schema():
    call_command("seed_demo", force=True, verbosity=0)
    workspace = Workspace.objects.get(slug="demo")
    owner = Membership.objects.filter(workspace=workspace, role=Role.OWNER).first().user
    _, key = services.api_token_create(
        workspace=workspace, user=owner, name="contract", scopes=["read"], actor=None
    )
    headers = {"Authorization": f"Bearer {key}"}
    schema = _schema()
    reads = _reads(schema)
    ids: dict[str, list[int]] = {}
    checked: list[str] = []
    problems: list[str] = []

    def read(operation, path_parameters=None, query=None) -> dict | None:
        case = operation.Case(
            path_parameters={"workspace_slug": "demo", **(path_parameters or {})}, query=query or {}
        )
        response = case.call(headers=headers)
        label = f"{operation.method.upper()} {case.formatted_path} {query or ''}"
        checked.append(label)
        if response.status_code not in (200, 301):
            problems.append(f"{label}: {response.status_code} {response.text[:300]}")
            return None
        try:
            case.validate_response(
                response, checks=[status_code_conformance, response_schema_conformance], headers=headers
            )
        except FailureGroup as group:
            problems.extend(
                f"{label}: {failure.title}: {failure.message[:500]}" for failure in group.exceptions
            )
        return response.json() if response.status_code == 200 else None

    lists = [op for op in reads if op.path.count("{") == 1]
    for operation in lists:
        if operation.path.endswith(("capacity-fit/", "roadmap/")):
            continue
        body = read(operation, query={"page_size": 200} if "cursor" not in operation.path else None)
        if (
            isinstance(body, dict)
            and isinstance(body.get("results"), list)
            and not operation.path.endswith("deleted/")
        ):
            ids[operation.path] = [row["id"] for row in body["results"] if isinstance(row.get("id"), int)]

    for operation in reads:
        if operation.path.count("{") != 2 or "{id}" not in operation.path:
            continue
        collection = operation.path.split("{id}")[0]
        for pk in ids.get(collection, []):
            read(operation, path_parameters={"id": pk})

    roadmap = next(op for op in reads if op.path == WORKSPACE + "roadmap/")
    read(roadmap)
    read(roadmap, query={"group_by": "month", "start": "2027-01-01", "end": "2027-12-31"})
    fit = next(op for op in reads if op.path == WORKSPACE + "capacity-fit/")
    for capacity in TeamCapacity.objects.filter(workspace=workspace):
        read(fit, query={"capacity": capacity.pk})

    assert problems == []
    # Every read was made, every row of every resource read one by one.
    assert {label.split()[1] for label in checked} >= {
        "/api/v1/workspaces/demo/features/",
        "/api/v1/workspaces/demo/feedback/",
        "/api/v1/workspaces/demo/companies/",
    }
    assert len(checked) > 300
