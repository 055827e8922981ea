"""The API's GET routes of one object, read from the URL conf, for the query-budget tests.

Each app's test_query_budgets.py asserts that every such route of its views has a budget, so
a new detail endpoint without one fails there rather than going unmeasured.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver


def _patterns(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def object_get_routes(views_module: str) -> set[str]:
    """Names of the routes of ``views_module`` that GET one object: a ``pk`` in the path and a
    GET action (``retrieve`` or an extra action; the workspace's own detail route is by slug), and
    the workspace singletons (settings views)."""
    names = set()
    for route, pattern in _patterns(get_resolver()):
        callback = pattern.callback
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is None or view_class.__module__ != views_module:
            continue
        actions = getattr(callback, "actions", None)
        if actions is not None:
            if "get" in actions and ("(?P<pk>" in route or pattern.name.endswith("-detail")):
                names.add(pattern.name)
        elif pattern.name.endswith("-settings") and hasattr(view_class, "get"):
            names.add(pattern.name)
    return names
