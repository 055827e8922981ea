"""``/api/v1/workspaces/{slug}/feedback-settings/``: every member reads whether duplicates and
features are suggested by meaning; admins turn it on or off."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from feedback.models import FeedbackSettings
from productops.models import AuditEvent, Role

pytestmark = pytest.mark.django_db

TARGET = "feedback.feedbacksettings"


def path(workspace):
    return f"/api/v1/workspaces/{workspace.slug}/feedback-settings/"


def errors(response):
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def written():
    """The rows a change writes, to check a refusal wrote nothing."""
    return (
        list(FeedbackSettings.objects.values_list("workspace_id", "semantic_suggestions")),
        AuditEvent.objects.filter(target_type=TARGET).count(),
    )


@pytest.mark.parametrize("role", list(Role))
def test_every_member_reads_the_defaults_and_nothing_is_written(role, workspace, member, session_client):
    client = session_client(member(workspace, role).user)

    response = client.get(path(workspace))

    assert response.status_code == 200
    assert response.json() == {"semantic_suggestions": True}
    assert written() == ([], 0)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.VIEWER, 403),
        (Role.CONTRIBUTOR, 403),
        (Role.PRODUCT_MANAGER, 403),
        (Role.ADMIN, 200),
        (Role.OWNER, 200),
    ],
)
def test_only_admins_change_it(role, status, workspace, member, session_client):
    client = session_client(member(workspace, role).user)

    response = client.patch(path(workspace), {"semantic_suggestions": False}, format="json")

    assert response.status_code == status
    if status == 403:
        assert errors(response) == [(None, "permission_denied")]
        assert written() == ([], 0)
        assert client.get(path(workspace)).json() == {"semantic_suggestions": True}
    else:
        assert response.json() == {"semantic_suggestions": False}
        assert written() == ([(workspace.pk, False)], 1)


def test_a_change_is_audited_once_and_another_workspace_is_unaffected(
    workspace, other_workspace, member, session_client
):
    admin = member(workspace, Role.ADMIN).user
    abroad = member(other_workspace, Role.ADMIN).user
    client = session_client(admin)

    off = client.patch(path(workspace), {"semantic_suggestions": False}, format="json")
    again = client.patch(path(workspace), {"semantic_suggestions": False}, format="json")
    nothing = client.patch(path(workspace), {}, format="json")

    assert [r.status_code for r in (off, again, nothing)] == [200, 200, 200]
    assert nothing.json() == {"semantic_suggestions": False}
    event = AuditEvent.objects.get(target_type=TARGET)
    row = FeedbackSettings.objects.get(workspace=workspace)
    assert (event.workspace_id, event.actor_id, event.action, event.target_id, event.changes) == (
        workspace.pk,
        admin.pk,
        AuditEvent.Action.UPDATED,
        str(row.pk),
        {"semantic_suggestions": False},
    )
    assert session_client(abroad).get(path(other_workspace)).json() == {"semantic_suggestions": True}
    assert not FeedbackSettings.objects.filter(workspace=other_workspace).exists()

    on = client.patch(path(workspace), {"semantic_suggestions": True}, format="json")

    assert on.json() == {"semantic_suggestions": True}
    assert AuditEvent.objects.filter(target_type=TARGET).count() == 2


def test_a_non_boolean_is_a_field_error_and_writes_nothing(workspace, member, session_client):
    client = session_client(member(workspace, Role.ADMIN).user)

    for body, expected in (
        ({"semantic_suggestions": "perhaps"}, [("semantic_suggestions", "invalid")]),
        ({"semantic_suggestions": [True]}, [("semantic_suggestions", "invalid")]),
        ({"semantic_suggestions": None}, [("semantic_suggestions", "null")]),
        ({"semantic_suggestions": False, "model": "x"}, [("model", "unknown_field")]),
    ):
        response = client.patch(path(workspace), body, format="json")
        assert (response.status_code, response.json()["type"], errors(response)) == (
            400,
            "validation_error",
            expected,
        ), body
    assert written() == ([], 0)
    assert client.put(path(workspace), {"semantic_suggestions": False}, format="json").status_code == 405
    assert client.get(path(workspace)).json() == {"semantic_suggestions": True}


def test_outsiders_and_read_only_tokens_cannot_change_it(
    workspace, other_workspace, member, session_client, token_client
):
    admin = member(workspace, Role.ADMIN).user
    stranger = member(other_workspace, Role.OWNER).user
    body = {"semantic_suggestions": False}

    assert APIClient().get(path(workspace)).status_code == 401
    assert APIClient().patch(path(workspace), body, format="json").status_code == 401
    assert session_client(stranger).get(path(workspace)).status_code == 404
    assert session_client(stranger).patch(path(workspace), body, format="json").status_code == 404
    read_only = token_client(workspace, admin, ("read",))
    assert read_only.get(path(workspace)).status_code == 200
    assert read_only.patch(path(workspace), body, format="json").status_code == 403
    assert written() == ([], 0)
    assert token_client(workspace, admin).patch(path(workspace), body, format="json").status_code == 200
    assert written() == ([(workspace.pk, False)], 1)
