"""Fixed query budgets of the platform API's detail reads (api/platform): workspace,
membership, invitation, token, audit event. Exact queries of one request, session
authentication included; the URL conf's routes of one object all have one
(tests/query_routes.py). The list budgets are in test_api.py.
"""

from __future__ import annotations

import pytest

from productops import services
from productops.models import AuditEvent, Role
from tests.query_routes import object_get_routes

pytestmark = pytest.mark.django_db


def _workspace(workspace, owner, member):
    return workspace.slug


def _membership(workspace, owner, member):
    return member(workspace, Role.VIEWER).pk


def _invitation(workspace, owner, member):
    return services.invitation_create(
        workspace=workspace, email="ann@example.com", role=Role.VIEWER, actor=owner
    ).pk


def _token(workspace, owner, member):
    token, _ = services.api_token_create(
        workspace=workspace, user=owner, name="ci", scopes=("read",), actor=owner
    )
    return token.pk


def _audit_event(workspace, owner, member):
    services.invitation_create(workspace=workspace, email="bob@example.com", role=Role.VIEWER, actor=owner)
    return AuditEvent.objects.filter(workspace=workspace).latest("pk").pk


#: route name → (path, builder returning the object's key, exact queries of its GET)
DETAIL_BUDGETS = {
    "workspace-detail": ("/api/v1/workspaces/{key}/", _workspace, 3),
    "membership-detail": ("/api/v1/workspaces/acme/members/{key}/", _membership, 4),
    "invitation-detail": ("/api/v1/workspaces/acme/invitations/{key}/", _invitation, 4),
    "api-token-detail": ("/api/v1/workspaces/acme/tokens/{key}/", _token, 4),
    "audit-event-detail": ("/api/v1/workspaces/acme/audit-events/{key}/", _audit_event, 4),
}


@pytest.mark.parametrize("route", list(DETAIL_BUDGETS))
def test_detail_read_budget(route, workspace, owner, member, session_client, django_assert_num_queries):
    path, build, budget = DETAIL_BUDGETS[route]
    key = build(workspace, owner, member)
    client = session_client(owner)
    client.get(path.format(key=key))  # first use

    with django_assert_num_queries(budget):
        response = client.get(path.format(key=key))
    assert response.status_code == 200, response.content


def test_every_detail_route_has_a_budget():
    assert object_get_routes("api.platform.views") == set(DETAIL_BUDGETS)
