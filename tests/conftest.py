"""Shared fixtures: API clients acting as a member of a workspace, by session or token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from productops import services
from productops.models import Membership, Role, User, Workspace
from tests.productops.factories import MembershipFactory, UserFactory, WorkspaceFactory

# Django's error reports (POST data, frame variables) into pytest's --log-file, and the
# ``error_reports`` fixture; the secrets check (scripts/check_logs_for_secrets.py) reads both.
pytest_plugins = ["tests.error_reports"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache, shared digest renderings in comms.digests; each
    # test starts from nothing.
    from comms.digests import shared_renderings_clear

    cache.clear()
    shared_renderings_clear()
    yield
    cache.clear()
    shared_renderings_clear()


@pytest.fixture
def workspace(db) -> Workspace:
    return WorkspaceFactory(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db) -> Workspace:
    return WorkspaceFactory(slug="globex", name="Globex")


@pytest.fixture
def member(db) -> Callable[..., Membership]:
    """``member(workspace, role)`` → a new user holding ``role`` in ``workspace``."""

    def make(workspace: Workspace, role: str = Role.CONTRIBUTOR, **user_fields: object) -> Membership:
        return MembershipFactory(workspace=workspace, role=role, user=UserFactory(**user_fields))

    return make


@pytest.fixture
def owner(workspace, member) -> User:
    return member(workspace, Role.OWNER).user


@pytest.fixture
def session_client() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def token_client() -> Callable[..., APIClient]:
    """``token_client(workspace, user, scopes)`` → a client sending a fresh bearer token."""

    def make(workspace: Workspace, user: User, scopes: tuple[str, ...] = ("read", "write")) -> APIClient:
        _, key = services.api_token_create(
            workspace=workspace, user=user, name="test", scopes=scopes, actor=None
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def portal_client(member) -> Callable[..., tuple[Client, Membership]]:
    """A browser-like client signed in as a new member of ``workspace`` with ``role``."""

    def make(workspace: Workspace, role: str = Role.VIEWER) -> tuple[Client, Membership]:
        membership = member(workspace, role)
        client = Client()
        client.force_login(membership.user)
        return client, membership

    return make
