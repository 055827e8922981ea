"""Fixtures of the public board: an enabled board, public features, a signed-in customer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from board.models import BoardSettings
from board.views.access import SESSION_KEY
from feedback.models import Contact
from roadmap.models import Feature
from tests.board.factories import BoardContactFactory, BoardSettingsFactory
from tests.feedback.factories import ContactFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory


@pytest.fixture
def board(workspace) -> BoardSettings:
    return BoardSettingsFactory(workspace=workspace)


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Reporting")


@pytest.fixture
def public_feature(product) -> Feature:
    return FeatureFactory(product=product, title="Export to PDF", is_public=True, horizon="now")


@pytest.fixture
def verified(workspace) -> Callable[..., Contact]:
    """``verified(email=...)`` → a contact of ``workspace`` who verified on the board."""

    def make(ws=None, **fields) -> Contact:
        contact = ContactFactory(workspace=ws or workspace, **fields)
        BoardContactFactory(contact=contact)
        return contact

    return make


@pytest.fixture
def customer_client() -> Callable[[Contact], Client]:
    """A browser signed in on the board as ``contact`` (the session the magic link sets)."""

    def make(contact: Contact, client: Client | None = None) -> Client:
        client = client or Client()
        session = client.session
        contacts = dict(session.get(SESSION_KEY) or {})
        contacts[str(contact.workspace_id)] = contact.pk
        session[SESSION_KEY] = contacts
        session.save()
        return client

    return make
