"""What every portal page's layout needs: the workspace, the role's abilities, the switcher."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from portal.access import has_role
from productops import selectors
from productops.models import Role


def portal(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "workspace": membership.workspace,
        "membership": membership,
        # What the role may do; templates hide the rest, and views refuse it anyway.
        "can": {
            "contribute": has_role(membership, Role.CONTRIBUTOR),
            "manage": has_role(membership, Role.PRODUCT_MANAGER),
            "admin": has_role(membership, Role.ADMIN),
            "own": has_role(membership, Role.OWNER),
        },
        # The "Sent e-mails (dev)" link (portal.views.dev_emails): DEBUG and staff only.
        "dev_emails": bool(settings.DEBUG and request.user.is_staff),
        "switcher_workspaces": SimpleLazyObject(
            lambda: list(selectors.workspace_list_for_user(user=request.user).only("name", "slug"))
        ),
    }
