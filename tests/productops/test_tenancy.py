"""The shared tenancy mechanism cannot be forgotten by a domain app."""

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny

from productops.api.base import (
    IsWorkspaceMember,
    WorkspaceScopedAPIView,
    WorkspaceScopedViewSet,
    _WorkspaceScoped,
)
from productops.models import WorkspaceOwnedModel

DOMAIN_APPS = {"roadmap", "feedback", "releases", "comms"}

# API routes outside /workspaces/{workspace_slug}/, each with why it needs no workspace
# in its URL. A new one must be added here, on purpose.
NON_WORKSPACE_ROUTES = {
    "api/v1/invitations/accept/": "the signed invitation token names the workspace",
    "api/v1/^workspaces/$": "lists the caller's workspaces and creates new ones",
    # No session or token: the HMAC secret identifies the webhook, and the webhook its workspace.
    "api/v1/inbound/<str:public_id>/": "signed inbound webhook deliveries from tools",
}
# Of those, the routes anyone may call (they authenticate the request themselves).
PUBLIC_ROUTES = {"api/v1/inbound/<str:public_id>/"}


def _api_views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            view = pattern.callback
            yield route, getattr(view, "cls", None) or getattr(view, "view_class", None)


def test_every_workspace_route_uses_the_scoped_base():
    routes = list(_api_views(get_resolver()))
    workspace_routes = [(route, cls) for route, cls in routes if "workspace_slug" in route]

    assert len(workspace_routes) >= 8
    unscoped = [route for route, cls in workspace_routes if not issubclass(cls, _WorkspaceScoped)]
    assert unscoped == []
    unguarded = [
        route
        for route, cls in workspace_routes
        if IsWorkspaceMember not in getattr(cls, "permission_classes", [])
    ]
    assert unguarded == []


def test_routes_outside_a_workspace_are_the_listed_ones():
    routes = {route: cls for route, cls in _api_views(get_resolver()) if "workspace_slug" not in route}

    assert sorted(routes) == sorted(NON_WORKSPACE_ROUTES)
    public = {route for route, cls in routes.items() if AllowAny in getattr(cls, "permission_classes", [])}
    assert public == PUBLIC_ROUTES


def test_every_domain_model_belongs_to_a_workspace():
    domain_models = [m for m in apps.get_models() if m._meta.app_label in DOMAIN_APPS]

    assert [m.__name__ for m in domain_models if not issubclass(m, WorkspaceOwnedModel)] == []


def test_base_classes_refuse_to_guess_a_queryset():
    for base in (WorkspaceScopedViewSet, WorkspaceScopedAPIView):
        try:
            base().get_workspace_queryset(None)
        except NotImplementedError:
            continue
        raise AssertionError(f"{base.__name__} returned a queryset without a selector")
