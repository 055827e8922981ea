"""The REST API (``/api/v1/``): an interface above every domain.

One subpackage per area (``platform``: workspaces, members, invitations, tokens, audit
log; ``roadmap``, which also serves the priority engine's reads; ``feedback``), each
with its serializers, filters, views and URLs. Views validate input, call a service or
selector and render. The shared machinery (base viewsets, the error handler,
pagination, filters, throttling, schema hooks) is the platform core's, in
``productops.api``.
"""
