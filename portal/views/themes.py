"""The Themes page: unlinked feedback of a period clustered by meaning (feedback.themes),
linked from the triage inbox. Per theme: create a feature from it, link it to an existing
feature, and "wrong theme" per item; a button queues a recompute for the worker.

Plain forms that post and redirect (no script needed); errors re-render the page with the
form's errors under its theme.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feedback import theme_selectors, theme_services
from feedback.models import Theme
from feedback.theme_models import PERIOD_CHOICES
from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.themes import ThemeFeatureForm, ThemeLinkForm, ThemePeriodForm
from portal.views.companies import format_money
from productops.errors import DomainError
from productops.models import Role


def _period(request: HttpRequest) -> int:
    return ThemePeriodForm(request.GET or request.POST or None).period_days()


def _themes_url(request: HttpRequest, period_days: int) -> str:
    return f"{reverse('portal:themes', args=[request.workspace.slug])}?period={period_days}"


def _theme_or_404(request: HttpRequest, theme_id: int) -> Theme:
    return get_object_or_404(theme_selectors.theme_list(workspace=request.workspace), pk=theme_id)


def _render_page(
    request: HttpRequest,
    *,
    status: int = 200,
    failed: int | None = None,
    link_form: ThemeLinkForm | None = None,
) -> HttpResponse:
    period_days = _period(request)
    run = theme_selectors.theme_run(workspace=request.workspace, period_days=period_days)
    themes = list(theme_selectors.theme_list(workspace=request.workspace, period_days=period_days))
    can_contribute = has_role(request.membership, Role.CONTRIBUTOR)
    rows: list[dict[str, Any]] = []
    for theme in themes:
        form = link_form if failed == theme.pk and link_form is not None else None
        if form is None and can_contribute:
            form = ThemeLinkForm(workspace=request.workspace, prefix=f"t{theme.pk}")
        rows.append(
            {
                "theme": theme,
                "arr": format_money(theme.arr, theme.arr_currency),
                "delta": theme.trend_current - theme.trend_previous,
                "link_form": form,
            }
        )
    context = {
        "rows": rows,
        "run": run,
        "period_days": period_days,
        "periods": [{"days": days, "label": label} for days, label in PERIOD_CHOICES],
        "max_items": theme_services.MAX_ITEMS,
    }
    return render(request, "portal/themes/themes.html", context, status=status)


@workspace_page()
@require_GET
def themes(request: HttpRequest) -> HttpResponse:
    """The period's themes, largest first, with size, companies, ARR, trend and typical items."""
    return _render_page(request)


@workspace_page()
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    """Queue a recompute of the period's themes for the worker."""
    require_role(request, Role.CONTRIBUTOR)
    period_days = _period(request)
    theme_services.themes_recompute_request(
        workspace=request.workspace, actor=request.user, period_days=period_days
    )
    messages.success(request, "Recomputing the themes: reload the page in a moment.")
    return redirect(_themes_url(request, period_days))


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def create_feature(request: HttpRequest, theme_id: int) -> HttpResponse:
    """Create a feature from the theme (title prefilled from its label), linked to its items."""
    theme = _theme_or_404(request, theme_id)
    if request.method == "POST":
        form = ThemeFeatureForm(request.POST, workspace=request.workspace)
        if form.is_valid():
            try:
                feature = theme_services.theme_create_feature(
                    theme=theme,
                    actor=request.user,
                    data=form.feature_data(),
                    importance=form.link_importance(),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request, f"Feature “{feature.title}” created from the theme “{theme.label}”."
                )
                return redirect(reverse("portal:feature", args=[request.workspace.slug, feature.pk]))
        else:
            status = 400
    else:
        form = ThemeFeatureForm(initial={"title": theme.label}, workspace=request.workspace)
        status = 200
    context = {
        "form": form,
        "theme": theme,
        "items": theme_services.theme_open_items(theme),
        "back_url": _themes_url(request, theme.period_days),
    }
    return render(request, "portal/themes/create_feature.html", context, status=status)


@workspace_page()
@require_POST
def link_feature(request: HttpRequest, theme_id: int) -> HttpResponse:
    """Link the theme's items to an existing feature (items linked to it already are skipped)."""
    require_role(request, Role.CONTRIBUTOR)
    theme = _theme_or_404(request, theme_id)
    form = ThemeLinkForm(request.POST, workspace=request.workspace, prefix=f"t{theme.pk}")
    if form.is_valid():
        try:
            count = theme_services.theme_link_feature(
                theme=theme,
                actor=request.user,
                feature=form.cleaned_data["feature"],
                importance=form.link_importance(),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return _render_page(request, status=exc.status_code, failed=theme.pk, link_form=form)
        title = form.cleaned_data["feature"].title
        messages.success(request, f"Linked {count} item{'s' if count != 1 else ''} to “{title}”.")
        return redirect(_themes_url(request, theme.period_days))
    return _render_page(request, status=400, failed=theme.pk, link_form=form)


@workspace_page()
@require_POST
def dismiss_item(request: HttpRequest, theme_id: int, item_id: int) -> HttpResponse:
    """Wrong theme: take the item out of it, for good."""
    require_role(request, Role.CONTRIBUTOR)
    theme = _theme_or_404(request, theme_id)
    item = get_object_or_404(theme_selectors.theme_member_items(theme=theme), pk=item_id)
    theme_services.theme_item_dismiss(theme=theme, item=item, actor=request.user)
    messages.success(request, f"Feedback #{item.pk} taken out of “{theme.label}”.")
    return redirect(_themes_url(request, theme.period_days))
