"""Signed, workspace-bound tokens in e-mail links: a stakeholder's preferences and
one-click unsubscribe, a contact's unsubscribe from close-the-loop notices, and a
changelog subscriber's double opt-in. A tampered token, or one used under another
workspace, is refused (404 ``invalid_link``)."""

from __future__ import annotations

from django.core import signing

from productops.errors import NotFound

STAKEHOLDER_SALT = "comms.stakeholder"
CONTACT_SALT = "comms.contact"
CONFIRM_SALT = "comms.changelog-confirm"
#: An opt-in link works for a week.
CONFIRM_MAX_AGE = 7 * 24 * 60 * 60


def _dumps(salt: str, workspace_id: int, key: str, pk: int) -> str:
    return signing.dumps({"w": workspace_id, key: pk}, salt=salt, compress=True)


def _loads(
    salt: str, token: str, workspace_id: int | None, key: str, max_age: int | None = None
) -> tuple[int, int]:
    try:
        data = signing.loads(token or "", salt=salt, max_age=max_age)
    except (signing.BadSignature, ValueError):
        raise NotFound("This link is not valid.", code="invalid_link") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("w"), int)
        or not isinstance(data.get(key), int)
        or (workspace_id is not None and data["w"] != workspace_id)
    ):
        raise NotFound("This link is not valid.", code="invalid_link")
    return data["w"], data[key]


def stakeholder_token(stakeholder) -> str:
    return _dumps(STAKEHOLDER_SALT, stakeholder.workspace_id, "s", stakeholder.pk)


def stakeholder_from_token(token: str, *, workspace_id: int | None = None) -> tuple[int, int]:
    """(workspace id, stakeholder id) of a preferences/unsubscribe token."""
    return _loads(STAKEHOLDER_SALT, token, workspace_id, "s")


def contact_token(contact) -> str:
    return _dumps(CONTACT_SALT, contact.workspace_id, "c", contact.pk)


def contact_from_token(token: str, *, workspace_id: int | None = None) -> tuple[int, int]:
    return _loads(CONTACT_SALT, token, workspace_id, "c")


def confirm_token(stakeholder) -> str:
    return _dumps(CONFIRM_SALT, stakeholder.workspace_id, "s", stakeholder.pk)


def stakeholder_from_confirm_token(token: str, *, workspace_id: int | None = None) -> tuple[int, int]:
    return _loads(CONFIRM_SALT, token, workspace_id, "s", max_age=CONFIRM_MAX_AGE)
