"""Comms pages: stakeholders and their subscriptions, the digest preview of a subscription
(with "send test to me"), the comms settings, and the close-the-loop previews the release
ship confirmation and the feature status form show.

The whole area is for product managers or higher (stakeholders are people's addresses, and
an executive digest shows ARR); the settings are an admin's to change. Every action is a
plain form post that calls the service the REST API uses, then redirects (POST-redirect-GET);
a refusal re-renders the page with the service's ``detail`` on the form, and nothing is
written. The delivery log is ``portal.views.deliveries``, webhooks ``portal.views.webhooks``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from comms import selectors, services
from comms.models import Cadence, Stakeholder, StakeholderKind, Subscription
from feedback import selectors as feedback_selectors
from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.comms import (
    WEEKDAY_CHOICES,
    CommsSettingsForm,
    StakeholderEditForm,
    StakeholderFilterForm,
    StakeholderForm,
    SubscriptionEditForm,
    SubscriptionForm,
    target_label,
)
from productops import selectors as productops_selectors
from productops.errors import DomainError
from productops.models import Event, Role
from productops.outbox.models import SuppressedReason
from productops.safe_redirect import safe_next
from productops.selectors import event_id_for
from releases import selectors as release_selectors
from roadmap import selectors as roadmap_selectors

PAGE_SIZE = 50


# --- helpers -------------------------------------------------------------------------------


def _members(request: HttpRequest) -> list:
    return [m.user for m in productops_selectors.membership_list(workspace=request.workspace)]


def _stakeholder(request: HttpRequest, stakeholder_id: int) -> Stakeholder:
    stakeholder = (
        selectors.stakeholders_list(workspace=request.workspace)
        .select_related("workspace", "user", "contact")
        .filter(pk=stakeholder_id)
        .first()
    )
    if stakeholder is None:
        raise Http404("Stakeholder not found.")
    return stakeholder


def _subscription(request: HttpRequest, subscription_id: int) -> Subscription:
    subscription = (
        selectors.subscriptions_list(workspace=request.workspace)
        .select_related("workspace")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None:
        raise Http404("Subscription not found.")
    return subscription


def _stakeholder_url(request: HttpRequest, stakeholder_id: int, section: str = "") -> str:
    url = reverse("portal:comms-stakeholder", args=[request.workspace.slug, stakeholder_id])
    return f"{url}#{section}" if section else url


def _targets(request: HttpRequest) -> dict[str, list]:
    """What a subscription can follow, loaded once per page (a query per kind)."""
    workspace = request.workspace
    return {
        "products": list(roadmap_selectors.product_list(workspace=workspace)),
        "goals": list(roadmap_selectors.goal_list(workspace=workspace).prefetch_related(None)),
        "initiatives": list(roadmap_selectors.initiative_list(workspace=workspace)),
        "releases": list(release_selectors.release_list(workspace=workspace)),
    }


def schedule_text(subscription: Subscription) -> str:
    """ "Weekly, Monday 09:00 Europe/Paris", "Daily, 18:00 UTC", "Immediately"."""
    if subscription.cadence == Cadence.IMMEDIATE:
        return "Immediately"
    hour = f"{subscription.local_hour:02d}:00 {subscription.time_zone}"
    if subscription.cadence == Cadence.WEEKLY:
        return f"Weekly, {dict(WEEKDAY_CHOICES)[subscription.weekday]} {hour}"
    return f"Daily, {hour}"


# --- stakeholders ---------------------------------------------------------------------------


def _render_list(request: HttpRequest, create_form: StakeholderForm | None = None, status: int = 200):
    filter_form = StakeholderFilterForm(request.GET)
    filters = filter_form.filters()
    rows = selectors.stakeholders_list(workspace=request.workspace, audience=filters["audience"])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/comms/stakeholders.html",
        {
            "filter_form": filter_form,
            "page": page,
            "rows": list(page.object_list),
            "create_form": create_form or StakeholderForm(members=_members(request), auto_id="new-%s"),
        },
        status=status,
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def stakeholder_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def stakeholder_create(request: HttpRequest) -> HttpResponse:
    form = StakeholderForm(request.POST, members=_members(request), auto_id="new-%s")
    if form.is_valid():
        data: dict[str, Any] = {
            "kind": form.cleaned_data["kind"],
            "name": form.cleaned_data["name"],
            "audience": form.cleaned_data["audience"],
        }
        kind = data["kind"]
        if kind == StakeholderKind.MEMBER:
            data["user"] = form.cleaned_data["user"]
        elif kind == StakeholderKind.CONTACT:
            data["contact"] = (
                feedback_selectors.contact_list(workspace=request.workspace)
                .filter(email__iexact=form.cleaned_data["email"])
                .first()
            )
            if data["contact"] is None:
                form.add_error("email", "No customer contact of this workspace has this address.")
        else:
            data["email"] = form.cleaned_data["email"]
        if form.is_valid():
            try:
                stakeholder = services.stakeholder_create(
                    workspace=request.workspace, actor=request.user, data=data
                )
            except DomainError as exc:
                add_domain_error(form, exc, aliases={"contact": "email"})
            else:
                messages.success(request, f"“{stakeholder}” added: now choose what they follow.")
                return redirect(_stakeholder_url(request, stakeholder.pk, "subscribe"))
    return _render_list(request, form, status=400)


def _render_stakeholder(
    request: HttpRequest, stakeholder: Stakeholder, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    bound = bound or {}
    subscriptions = list(
        selectors.subscriptions_list(workspace=request.workspace, stakeholder_id=stakeholder.pk)
    )
    rows = [
        {
            "subscription": s,
            "target": target_label(s),
            "schedule": schedule_text(s),
            "form": bound.get(f"sub-{s.pk}")
            or SubscriptionEditForm(
                initial={
                    "channel": s.channel,
                    "slack_url": s.slack_url,
                    "cadence": s.cadence,
                    "time_zone": s.time_zone,
                    "local_hour": s.local_hour,
                    "weekday": s.weekday,
                    "is_active": s.is_active,
                },
                auto_id=f"sub-{s.pk}-%s",
            ),
        }
        for s in subscriptions
    ]
    return render(
        request,
        "portal/comms/stakeholder.html",
        {
            "stakeholder": stakeholder,
            "rows": rows,
            "edit_form": bound.get("edit")
            or StakeholderEditForm(
                stakeholder=stakeholder,
                initial={
                    "name": stakeholder.name,
                    "audience": stakeholder.audience,
                    "email": stakeholder.email,
                },
                auto_id="edit-%s",
            ),
            "subscribe_form": bound.get("subscribe")
            or SubscriptionForm(
                **_targets(request),
                workspace=request.workspace,
                initial={"time_zone": "UTC", "local_hour": 9, "weekday": 1},
                auto_id="subscribe-%s",
            ),
            "open_sections": {key.split("-")[0] for key in bound},
        },
        status=status,
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def stakeholder_detail(request: HttpRequest, stakeholder_id: int) -> HttpResponse:
    return _render_stakeholder(request, _stakeholder(request, stakeholder_id))


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def stakeholder_edit(request: HttpRequest, stakeholder_id: int) -> HttpResponse:
    stakeholder = _stakeholder(request, stakeholder_id)
    form = StakeholderEditForm(request.POST, stakeholder=stakeholder, auto_id="edit-%s")
    if form.is_valid():
        try:
            stakeholder = services.stakeholder_update(
                stakeholder=stakeholder, actor=request.user, data=form.stakeholder_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{stakeholder}” saved.")
            return redirect(_stakeholder_url(request, stakeholder.pk))
    return _render_stakeholder(request, _stakeholder(request, stakeholder_id), {"edit": form}, status=400)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def stakeholder_delete(request: HttpRequest, stakeholder_id: int) -> HttpResponse:
    stakeholder = _stakeholder(request, stakeholder_id)
    try:
        services.stakeholder_delete(stakeholder=stakeholder, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_stakeholder_url(request, stakeholder.pk))
    messages.success(request, f"“{stakeholder}” and their subscriptions were removed.")
    return redirect("portal:comms-stakeholders", request.workspace.slug)


# --- subscriptions --------------------------------------------------------------------------


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def subscription_create(request: HttpRequest, stakeholder_id: int) -> HttpResponse:
    stakeholder = _stakeholder(request, stakeholder_id)
    form = SubscriptionForm(
        request.POST, **_targets(request), workspace=request.workspace, auto_id="subscribe-%s"
    )
    if form.is_valid():
        try:
            subscription = services.subscription_create(
                workspace=request.workspace,
                actor=request.user,
                data={"stakeholder": stakeholder, **form.subscription_data(request.workspace)},
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{stakeholder} now follows {target_label(subscription).lower()}.")
            return redirect(_stakeholder_url(request, stakeholder.pk, "subscriptions"))
    return _render_stakeholder(request, stakeholder, {"subscribe": form}, status=400)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def subscription_edit(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = _subscription(request, subscription_id)
    form = SubscriptionEditForm(request.POST, auto_id=f"sub-{subscription.pk}-%s")
    if form.is_valid():
        try:
            subscription = services.subscription_update(
                subscription=subscription, actor=request.user, data=form.subscription_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Subscription to {target_label(subscription).lower()} saved.")
            return redirect(_stakeholder_url(request, subscription.stakeholder_id, "subscriptions"))
    stakeholder = _stakeholder(request, subscription.stakeholder_id)
    return _render_stakeholder(request, stakeholder, {f"sub-{subscription.pk}": form}, status=400)


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def subscription_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    subscription = _subscription(request, subscription_id)
    try:
        services.subscription_delete(subscription=subscription, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"No longer following {target_label(subscription).lower()}.")
    return redirect(_stakeholder_url(request, subscription.stakeholder_id, "subscriptions"))


# --- digest preview --------------------------------------------------------------------------


def _part(preview: Any, name: str, default: Any = "") -> Any:
    """A part of the digest preview, whether the digests module answers a mapping or an object."""
    if isinstance(preview, dict):
        return preview.get(name, default)
    return getattr(preview, name, default)


def _item(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        return {"text": str(item), "detail": "", "url": ""}
    url = str(item.get("url") or "")
    return {
        "text": str(item.get("text") or ""),
        "detail": str(item.get("detail") or ""),
        # Links the digest itself carries (the public board, the portal); nothing else is linked.
        "url": url if url.startswith(("https://", "http://")) else "",
    }


def _section(section: Any) -> dict[str, Any]:
    """A digest section as the page shows it: a title, an intro and lines of plain text."""
    return {
        "title": str(_part(section, "title") or ""),
        "intro": str(_part(section, "intro") or ""),
        "news": bool(_part(section, "news", True)),
        "items": [_item(item) for item in _part(section, "items", None) or []],
    }


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def digest_preview(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """What the subscription's next digest would say now: the subject, the sections, the text
    part and the HTML part (in a sandboxed frame, served by :func:`digest_preview_html`)."""
    from comms import digests

    subscription = _subscription(request, subscription_id)
    try:
        preview = digests.digest_preview(subscription=subscription, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_stakeholder_url(request, subscription.stakeholder_id, "subscriptions"))
    return render(
        request,
        "portal/comms/digest_preview.html",
        {
            "subscription": subscription,
            "stakeholder": subscription.stakeholder,
            "target": target_label(subscription),
            "schedule": schedule_text(subscription),
            "subject": _part(preview, "subject"),
            "text": _part(preview, "text"),
            "has_html": bool(_part(preview, "html")),
            "sections": [_section(section) for section in _part(preview, "sections", None) or []],
            "empty": bool(_part(preview, "empty", False)),
            "since": _part(preview, "since", None),
            "until": _part(preview, "until", None),
        },
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def digest_preview_html(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """The preview's HTML part alone, for the preview page's sandboxed frame."""
    from comms import digests
    from portal.views.deliveries import sandboxed_html

    subscription = _subscription(request, subscription_id)
    try:
        preview = digests.digest_preview(subscription=subscription, actor=request.user)
    except DomainError as exc:
        raise Http404(exc.detail) from None
    return sandboxed_html(_part(preview, "html") or "")


@require_POST
@workspace_page(Role.PRODUCT_MANAGER)
def digest_send_test(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Send the digest as it would be now to the requester's own address (not the stakeholder's)."""
    from comms import digests

    subscription = _subscription(request, subscription_id)
    try:
        delivery = digests.digest_send_test(subscription=subscription, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        recipient = getattr(delivery, "recipient", "") or request.user.email
        messages.success(request, f"A test digest is on its way to {recipient}: see it in the delivery log.")
    return redirect("portal:comms-digest", request.workspace.slug, subscription.pk)


# --- settings -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@workspace_page(Role.PRODUCT_MANAGER)
def comms_settings(request: HttpRequest) -> HttpResponse:
    """Consent for imported contacts and rank moves per digest: product managers see them,
    admins change them."""
    row = selectors.comms_settings(workspace=request.workspace)
    form = CommsSettingsForm(
        initial={
            "notify_imported_contacts": row.notify_imported_contacts,
            "digest_rank_moves": row.digest_rank_moves,
        }
    )
    if request.method == "POST":
        require_role(request, Role.ADMIN)
        form = CommsSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.comms_settings_update(
                    workspace=request.workspace, actor=request.user, data=form.cleaned_data
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Comms settings saved.")
                return redirect("portal:settings-comms", request.workspace.slug)
    return render(
        request,
        "portal/comms/settings.html",
        {"form": form, "settings_row": row, "can_edit": has_role(request.membership, Role.ADMIN)},
        status=400 if form.errors else 200,
    )


# --- who a release tells ------------------------------------------------------------------------


def shipped_event_id(release: Any) -> int | None:
    """The id of the release's ``release.shipped`` event (recorded once per release), or None."""
    return event_id_for(
        workspace_id=release.workspace_id,
        kind=Event.Kind.RELEASE_SHIPPED,
        subject_type="releases.release",
        subject_id=release.pk,
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def release_told(request: HttpRequest, release_id: int) -> HttpResponse:
    """The delivery log of everything the release's shipping sent (close the loop, summaries,
    announcements, webhooks): the deliveries of its ``release.shipped`` event."""
    release = release_selectors.release_detail(workspace=request.workspace, release_id=release_id)
    if release is None:
        raise Http404("Release not found.")
    event_id = shipped_event_id(release)
    if event_id is None:
        messages.info(request, f"“{release}” has not shipped: nobody has been told yet.")
        return redirect("portal:release", request.workspace.slug, release.pk)
    return redirect(reverse("portal:comms-deliveries", args=[request.workspace.slug]) + f"?event={event_id}")


def release_loop_preview(request: HttpRequest, release: Any) -> dict[str, Any] | None:
    """The ship confirmation's "who will be told" (``comms.loop.loop_preview_for_release``),
    for product managers or higher (others see the plan without it), with the suppressed
    counts labelled and the features left out of notices listed."""
    from comms import loop

    if not has_role(request.membership, Role.PRODUCT_MANAGER):
        return None
    try:
        preview = loop.loop_preview_for_release(release=release, actor=request.user)
    except DomainError:
        return None
    return _labelled(preview)


def _labelled(preview: dict[str, Any]) -> dict[str, Any]:
    labels = dict(SuppressedReason.choices)
    suppressed = preview.get("suppressed") or {}
    return {
        **preview,
        "suppressed_rows": [(labels.get(reason, reason), n) for reason, n in suppressed.items() if n],
        "suppressed_total": sum(suppressed.values()),
        "untitled": [f["title"] for f in preview.get("features") or [] if not f.get("customer_title")],
        "sample": [
            {**person, "reason_label": labels.get(person.get("reason", ""), "")}
            for person in preview.get("sample") or []
        ],
        "suppressed_sample": [
            {**person, "reason_label": labels.get(person.get("reason", ""), "")}
            for person in preview.get("suppressed_sample") or []
        ],
    }


# --- a feature shipped or declined outside a release ---------------------------------------------


def feature_status_preview(request: HttpRequest, feature: Any, form: Any) -> HttpResponse | None:
    """The feature page's status form (it posts ``preview_loop``): a move to shipped or
    declined first shows who will be told and the notice they will read, with the message to
    customers (``comms.loop.loop_preview_for_feature``); the page's "Confirm" posts the same
    values back with ``confirmed``. None: no preview is due, change the status now."""
    from comms import loop

    to_status = form.cleaned_data["status"]
    if (
        request.POST.get("preview_loop") != "1"
        or request.POST.get("confirmed") == "1"
        or getattr(request, "htmx", False)
        or to_status not in loop.OUTCOMES
        or to_status == feature.status
    ):
        return None
    told = None
    try:
        preview = loop.loop_preview_for_feature(
            feature=feature,
            outcome=to_status,
            customer_message=form.cleaned_data["customer_message"],
            actor=request.user,
        )
    except DomainError as exc:
        add_domain_error(form, exc)
    else:
        told = _labelled(preview)
    back = reverse("portal:feature", args=[request.workspace.slug, feature.pk])
    next_url = safe_next(
        request, request.POST.get("next"), fallback=back, within=f"/w/{request.workspace.slug}/"
    )
    return render(
        request,
        "portal/comms/feature_status_confirm.html",
        {
            "f": feature,
            "form": form,
            "told": told,
            "notice": (told or {}).get("notice") or {},
            "to_status": to_status,
            "to_label": dict(form.fields["status"].choices)[to_status],
            "next": next_url,
            "back": back,
            "notice_url": reverse("portal:comms-feature-notice", args=[request.workspace.slug, feature.pk])
            + "?"
            + urlencode({"outcome": to_status, "customer_message": form.cleaned_data["customer_message"]}),
        },
        status=400 if form.errors else 200,
    )


@require_GET
@workspace_page(Role.PRODUCT_MANAGER)
def feature_notice_html(request: HttpRequest, feature_id: int) -> HttpResponse:
    """The HTML part of the notice a feature's status change would send (``outcome``,
    ``customer_message``), for the confirmation's sandboxed frame; nothing is written."""
    from comms import loop
    from portal.views.deliveries import sandboxed_html

    feature = roadmap_selectors.feature_detail(workspace=request.workspace, feature_id=feature_id)
    if feature is None:
        raise Http404("Feature not found.")
    try:
        preview = loop.loop_preview_for_feature(
            feature=feature,
            outcome=request.GET.get("outcome", ""),
            customer_message=request.GET.get("customer_message", ""),
            actor=request.user,
        )
    except DomainError as exc:
        raise Http404(exc.detail) from None
    return sandboxed_html((preview.get("notice") or {}).get("html", ""))
