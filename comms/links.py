"""Links in outgoing e-mail: the public pages that answer them are the board's
(``board/views/email.py``), named by string as the project URLconf includes them, so
comms does not import the interface that serves them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from django.urls import reverse

from comms import tokens

_SLOT = "TOKEN0PLACEHOLDER0"


@lru_cache(maxsize=1024)
def _token_route(base: str, slug: str, name: str) -> str:
    return base + reverse(f"board:{name}", kwargs={"workspace_slug": slug, "token": _SLOT})


def public_url(workspace: Any, name: str, **kwargs: Any) -> str:
    if set(kwargs) == {"token"}:
        # Thousands of digest links per batch: the route is reversed once per workspace and
        # page. Signed tokens are URL-safe (base64, ":" and "."), so reverse would not quote them.
        return _token_route(settings.PUBLIC_BASE_URL, workspace.slug, name).replace(_SLOT, kwargs["token"])
    return settings.PUBLIC_BASE_URL + reverse(
        f"board:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs}
    )


def stakeholder_links(stakeholder: Any) -> dict[str, str]:
    """The preference page and the one-click unsubscribe URL of a stakeholder's e-mail."""
    token = tokens.stakeholder_token(stakeholder)
    workspace = stakeholder.workspace
    return {
        "preferences": public_url(workspace, "stakeholder-preferences", token=token),
        "unsubscribe": public_url(workspace, "stakeholder-unsubscribe", token=token),
    }


def contact_unsubscribe_url(contact: Any, workspace: Any) -> str:
    return public_url(workspace, "contact-unsubscribe", token=tokens.contact_token(contact))


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the mail client POSTs ``List-Unsubscribe=One-Click``."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
