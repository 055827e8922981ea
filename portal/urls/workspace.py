"""Workspace settings pages: the workspace itself, members and invitations, API tokens."""

from django.urls import path

from portal.views import members, tokens, workspace

urlpatterns = [
    path("settings/workspace/", workspace.workspace_settings, name="workspace-settings"),
    path("settings/members/", members.members, name="members"),
    path("settings/members/invite/", members.invitation_create, name="invitation-create"),
    path("settings/members/<int:membership_id>/role/", members.member_role, name="member-role"),
    path("settings/members/<int:membership_id>/remove/", members.member_remove, name="member-remove"),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        members.invitation_revoke,
        name="invitation-revoke",
    ),
    path("settings/tokens/", tokens.tokens, name="tokens"),
    path("settings/tokens/created/", tokens.token_created, name="token-created"),
    path("settings/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
]
