"""Every workspace page of the portal is role-checked, and every form post needs its CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from productops.models import Role
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _workspace_views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _workspace_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("w/<slug:workspace_slug>/"):
            found.append((route, pattern.callback))
    return found


def test_every_workspace_page_goes_through_workspace_page():
    views = _workspace_views(get_resolver())
    assert len(views) > 30
    unguarded = [route for route, view in views if not hasattr(view, "portal_role")]
    assert unguarded == []


def test_form_posts_without_a_csrf_token_are_refused(workspace, member):
    membership = member(workspace, Role.OWNER)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), horizon="later")
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    for path, data in [
        (f"/w/{workspace.slug}/features/{feature.pk}/horizon/", {"horizon": "now"}),
        (f"/w/{workspace.slug}/settings/tokens/", {"name": "x", "scopes": ["read"]}),
        (f"/w/{workspace.slug}/settings/members/invite/", {"email": "a@example.com", "role": "viewer"}),
        ("/", {"name": "Another workspace"}),
    ]:
        assert client.post(path, data).status_code == 403, path
    feature.refresh_from_db()
    assert feature.horizon == "later"
    assert workspace.api_tokens.count() == 0
