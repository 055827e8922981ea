"""Outgoing webhooks (``/w/<slug>/settings/webhooks/``, admins, as in the REST API): the
endpoints with create, edit (event filter, rank top N, active), rotate secret, delete and
"send test event"; each endpoint's recent deliveries; and the threshold rules that raise
``feature.threshold_crossed`` events.

A signing secret is shown once, on the page right after it was made (create or rotation):
the session hands it to that one page view, like an API token's key, and it is never
rendered again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from comms import webhooks
from comms.models import Threshold, WebhookEndpoint
from portal.access import workspace_page
from portal.forms import add_domain_error
from portal.forms.comms import WEBHOOK_EVENT_CHOICES, ThresholdForm, WebhookEndpointForm
from productops.errors import DomainError
from productops.models import Role
from productops.outbox import selectors as outbox_selectors

_SHOWN_ONCE = "portal-webhook-secret-shown-once"
RECENT_DELIVERIES = 20


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = (
        webhooks.webhook_endpoints_list(workspace=request.workspace)
        .select_related("workspace")
        .filter(pk=endpoint_id)
        .first()
    )
    if endpoint is None:
        raise Http404("Webhook endpoint not found.")
    return endpoint


def _threshold(request: HttpRequest, threshold_id: int) -> Threshold:
    threshold = (
        webhooks.thresholds_list(workspace=request.workspace)
        .select_related("workspace")
        .filter(pk=threshold_id)
        .first()
    )
    if threshold is None:
        raise Http404("Threshold not found.")
    return threshold


def _list_url(request: HttpRequest, section: str = "") -> str:
    url = reverse("portal:settings-webhooks", args=[request.workspace.slug])
    return f"{url}#{section}" if section else url


def _endpoint_url(request: HttpRequest, endpoint: WebhookEndpoint, section: str = "") -> str:
    url = reverse("portal:settings-webhook", args=[request.workspace.slug, endpoint.pk])
    return f"{url}#{section}" if section else url


def _event_labels(endpoint: WebhookEndpoint) -> list[str]:
    labels = dict(WEBHOOK_EVENT_CHOICES)
    return [labels.get(kind, kind) for kind in endpoint.event_types or []]


def _hand_over_secret(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    # Post/redirect/get: the secret waits in the session for the next page view only.
    request.session[_SHOWN_ONCE] = {"id": endpoint.pk, "secret": secret}
    return redirect("portal:settings-webhook-secret", request.workspace.slug, endpoint.pk)


# --- the list ----------------------------------------------------------------------------------


def _render_list(request: HttpRequest, status: int = 200, **bound: Any) -> HttpResponse:
    endpoints = list(webhooks.webhook_endpoints_list(workspace=request.workspace))
    for endpoint in endpoints:
        endpoint.event_labels = _event_labels(endpoint)
    thresholds = list(webhooks.thresholds_list(workspace=request.workspace))
    for threshold in thresholds:
        threshold.rule = webhooks.rule_text(threshold)
    return render(
        request,
        "portal/comms/webhooks.html",
        {
            "endpoints": endpoints,
            "thresholds": thresholds,
            "endpoint_form": bound.get("endpoint") or WebhookEndpointForm(auto_id="new-%s"),
            "threshold_form": bound.get("threshold") or ThresholdForm(auto_id="threshold-%s"),
        },
        status=status,
    )


@require_GET
@workspace_page(Role.ADMIN)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@sensitive_post_parameters("url")  # a Slack incoming-webhook URL is a credential
@workspace_page(Role.ADMIN)
@sensitive_variables()  # the new signing secret, in an error report
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST, auto_id="new-%s")
    if form.is_valid():
        try:
            endpoint, secret = webhooks.webhook_endpoint_create(
                workspace=request.workspace, actor=request.user, data=form.endpoint_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Endpoint “{endpoint.name}” added.")
            return _hand_over_secret(request, endpoint, secret)
    return _render_list(request, status=400, endpoint=form)


@require_GET
@workspace_page(Role.ADMIN)
@sensitive_variables()  # the secret, here and in the template rendering below
def endpoint_secret(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """The endpoint's new signing secret, once: the session forgets it as this page renders."""
    endpoint = _endpoint(request, endpoint_id)
    shown = request.session.get(_SHOWN_ONCE)
    if not shown or shown.get("id") != endpoint.pk:
        messages.info(request, "A signing secret is shown only once, right after it is made.")
        return redirect(_endpoint_url(request, endpoint))
    del request.session[_SHOWN_ONCE]
    response = render(
        request, "portal/comms/webhook_secret.html", {"endpoint": endpoint, "secret": shown["secret"]}
    )
    response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response


# --- one endpoint ------------------------------------------------------------------------------


def _render_endpoint(
    request: HttpRequest,
    endpoint: WebhookEndpoint,
    form: WebhookEndpointForm | None = None,
    status: int = 200,
) -> HttpResponse:
    ref = f"endpoint:{endpoint.pk}"
    recent = list(
        outbox_selectors.deliveries_for_workspace(workspace=request.workspace, recipient_ref=ref)[
            :RECENT_DELIVERIES
        ]
    )
    return render(
        request,
        "portal/comms/webhook.html",
        {
            "endpoint": endpoint,
            "event_labels": _event_labels(endpoint),
            "form": form
            or WebhookEndpointForm(
                initial={
                    "name": endpoint.name,
                    "url": endpoint.url,
                    "format": endpoint.format,
                    "event_types": list(endpoint.event_types or []),
                    "rank_top_n": endpoint.rank_top_n,
                    "is_active": endpoint.is_active,
                },
                auto_id="edit-%s",
            ),
            "recent": recent,
            "ref": ref,
        },
        status=status,
    )


@require_GET
@workspace_page(Role.ADMIN)
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    return _render_endpoint(request, _endpoint(request, endpoint_id))


@require_POST
@sensitive_post_parameters("url")
@workspace_page(Role.ADMIN)
def endpoint_edit(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    form = WebhookEndpointForm(request.POST, auto_id="edit-%s")
    if form.is_valid():
        try:
            endpoint = webhooks.webhook_endpoint_update(
                endpoint=endpoint, actor=request.user, data=form.endpoint_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Endpoint “{endpoint.name}” saved.")
            return redirect(_endpoint_url(request, endpoint))
    return _render_endpoint(request, _endpoint(request, endpoint_id), form, status=400)


@require_POST
@workspace_page(Role.ADMIN)
@sensitive_variables()  # the new signing secret, in an error report
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        endpoint, secret = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_endpoint_url(request, endpoint))
    messages.success(request, "New signing secret made: the previous one keeps signing for a while.")
    return _hand_over_secret(request, endpoint, secret)


@require_POST
@workspace_page(Role.ADMIN)
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        webhooks.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_endpoint_url(request, endpoint))
    messages.success(request, f"Endpoint “{endpoint.name}” deleted: nothing more is posted to it.")
    return redirect(_list_url(request))


@require_POST
@workspace_page(Role.ADMIN)
def endpoint_send_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Test event queued for “{endpoint.name}”: its delivery is listed below.")
    return redirect(_endpoint_url(request, endpoint, "recent"))


# --- thresholds --------------------------------------------------------------------------------


@require_POST
@workspace_page(Role.ADMIN)
def threshold_create(request: HttpRequest) -> HttpResponse:
    form = ThresholdForm(request.POST, auto_id="threshold-%s")
    if form.is_valid():
        try:
            threshold = webhooks.threshold_create(
                workspace=request.workspace, actor=request.user, rule=form.cleaned_data["rule"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Threshold “{webhooks.rule_text(threshold)}” added.")
            return redirect(_list_url(request, "thresholds"))
    return _render_list(request, status=400, threshold=form)


@require_POST
@workspace_page(Role.ADMIN)
def threshold_delete(request: HttpRequest, threshold_id: int) -> HttpResponse:
    threshold = _threshold(request, threshold_id)
    try:
        webhooks.threshold_delete(threshold=threshold, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Threshold “{webhooks.rule_text(threshold)}” removed.")
    return redirect(_list_url(request, "thresholds"))
