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
# xdist_support: one log file under -n; pg_flush: DELETE, not TRUNCATE, after transactional tests.
pytest_plugins = ["tests.error_reports", "tests.xdist_support", "tests.pg_flush"]


def pytest_configure(config):
    # django-zeal counts per unit of work: the middleware opens a count per request
    # (productops/test_settings.py) and these signals one per Celery task run in the test
    # process (eager, ``.apply()`` or the in-process worker).
    from django.conf import settings

    if "zeal" not in settings.INSTALLED_APPS:
        return
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_zeal_task_start, weak=False)
    task_postrun.connect(_zeal_task_end, weak=False)


_zeal_tokens: dict[str, object] = {}


def _zeal_task_start(task_id=None, **_):
    from zeal import setup

    _zeal_tokens[task_id] = setup()


def _zeal_task_end(task_id=None, **_):
    from zeal import teardown

    teardown(_zeal_tokens.pop(task_id, None))


@pytest.fixture(autouse=True)
def _zeal():
    """django-zeal's N+1 detection in every test: each request and each Celery task the test
    runs is one count (tests/zeal_allowlist.py says why not the whole test body); the test
    starts and ends with detection off, so nothing leaks from one test into the next."""
    from django.conf import settings

    if "zeal" in settings.INSTALLED_APPS:
        from zeal import teardown

        teardown()
    yield
    if "zeal" in settings.INSTALLED_APPS:
        teardown()


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache, shared digest renderings in comms.digests, the
    # worker's vector indexes in feedback.vectors (their rows are rolled back); each test
    # starts from nothing.
    from comms.digests import shared_renderings_clear
    from feedback.vectors import indexes_clear

    cache.clear()
    shared_renderings_clear()
    indexes_clear()
    yield
    cache.clear()
    shared_renderings_clear()
    indexes_clear()


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
