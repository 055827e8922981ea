"""The delivery log (``/w/<slug>/comms/deliveries/``): every message the outbox sent, is
sending or held back, with filters (state, channel, kind, recipient, event, who it is for);
one delivery with exactly what was stored and sent; retry of failed rows, one or a page's
selection. Product managers or higher, as in the REST API.

A stored HTML part is shown in a sandboxed frame whose document is served by
:func:`delivery_html` with a CSP of its own (no script, nothing fetched), never inlined
into the portal page; its source is shown escaped beside it.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.access import workspace_page
from portal.forms.comms import DELIVERY_KINDS, DeliveryFilterForm, RetryForm
from productops.errors import DomainError
from productops.models import Event, Role
from productops.outbox import selectors, services
from productops.outbox.models import Delivery, DeliveryState
from productops.safe_redirect import safe_next

PAGE_SIZE = 50
#: The sandboxed frame's document: no script, no network, its own inline styles only (e-mail
#: HTML has its CSS inlined), shown only inside a portal page.
FRAME_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def sandboxed_html(html: str) -> HttpResponse:
    """``html`` as a document for a ``<iframe sandbox>`` of a portal page (stored e-mail HTML is
    someone else's markup: it runs nothing and loads nothing)."""
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CSP
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def _delivery(request: HttpRequest, delivery_id: int) -> Delivery:
    delivery = selectors.delivery_detail(workspace=request.workspace, delivery_id=delivery_id)
    if delivery is None:
        raise Http404("Delivery not found.")
    return delivery


def _log_url(request: HttpRequest) -> str:
    return reverse("portal:comms-deliveries", args=[request.workspace.slug])


def _back(request: HttpRequest) -> str:
    """Back to the delivery log page (with its filters) the form came from, never elsewhere."""
    return safe_next(
        request,
        request.POST.get("next"),
        fallback=_log_url(request),
        within=f"/w/{request.workspace.slug}/",
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def delivery_list(request: HttpRequest) -> HttpResponse:
    form = DeliveryFilterForm(request.GET or None)
    filters = form.filters()
    rows = selectors.deliveries_for_workspace(workspace=request.workspace, **filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    deliveries = list(page.object_list)
    kinds = dict(DELIVERY_KINDS)
    for delivery in deliveries:
        delivery.kind_label = kinds.get(delivery.kind, delivery.kind)
    return render(
        request,
        "portal/comms/deliveries.html",
        {
            "form": form,
            "page": page,
            "rows": deliveries,
            "failed_on_page": [d.pk for d in deliveries if d.state == DeliveryState.FAILED],
            "filtered": any(value not in (None, "") for value in filters.values()),
            "next": request.get_full_path(),
        },
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) if value else ""


def _pretty_body(text: str) -> str:
    """A webhook's stored body, indented for reading (the stored bytes are shown too)."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return ""


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(request, delivery_id)
    is_json_body = delivery.channel != "email"
    return render(
        request,
        "portal/comms/delivery.html",
        {
            "d": delivery,
            "kind_label": dict(DELIVERY_KINDS).get(delivery.kind, delivery.kind),
            "event_label": Event.Kind(delivery.event.kind).label
            if delivery.event_id and delivery.event.kind in Event.Kind.values
            else "",
            "payload_json": _pretty(delivery.payload),
            "headers_json": _pretty(delivery.headers),
            "body_pretty": _pretty_body(delivery.body_text) if is_json_body else "",
            "can_retry": delivery.state == DeliveryState.FAILED,
        },
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def delivery_html(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """The stored HTML part, exactly, for the detail page's sandboxed frame."""
    return sandboxed_html(_delivery(request, delivery_id).body_html)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def delivery_retry(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(request, delivery_id)
    try:
        services.delivery_retry(delivery=delivery, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Retrying the delivery to {delivery.recipient}: it is queued again.")
    return redirect("portal:comms-delivery", request.workspace.slug, delivery.pk)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def deliveries_retry(request: HttpRequest) -> HttpResponse:
    """Retry the selected failed deliveries (at most a page's worth); others are left alone."""
    form = RetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(_back(request))
    try:
        count = services.deliveries_retry(
            workspace=request.workspace, ids=form.cleaned_data["ids"], actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        if count:
            messages.success(request, f"{count} failed deliver{'y' if count == 1 else 'ies'} queued again.")
        else:
            messages.info(request, "None of the selected deliveries had failed: nothing was retried.")
    return redirect(_back(request))
