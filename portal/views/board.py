"""The public board's settings page in the team portal: publish it, its texts, comment moderation."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from board import selectors, services
from board.forms import BoardSettingsForm
from board.models import Comment
from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.releases import ChangelogSettingsForm
from productops.errors import DomainError
from productops.models import Role
from releases import selectors as release_selectors
from releases import services as release_services


def _render(
    request: HttpRequest,
    form: BoardSettingsForm,
    board: object,
    changelog_form: ChangelogSettingsForm | None = None,
) -> HttpResponse:
    workspace = request.workspace
    changelog = release_selectors.changelog_settings(workspace=workspace)
    if changelog_form is None:
        changelog_form = ChangelogSettingsForm(
            initial={"enabled": changelog.enabled, "title": changelog.title, "intro": changelog.intro},
            auto_id="changelog-%s",
        )
    return render(
        request,
        "portal/settings/board.html",
        {
            "form": form,
            "board": board,
            "comments": selectors.moderation_comment_list(workspace=workspace),
            "changelog_form": changelog_form,
            "changelog": changelog,
        },
        status=400 if form.errors or changelog_form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@workspace_page(Role.ADMIN)
def board_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    current = selectors.board_settings(workspace=workspace)
    form = BoardSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.board_settings_update(workspace=workspace, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "Public board settings saved.")
            return redirect("portal:board-settings", workspace_slug=workspace.slug)
    return _render(request, form, current)


@require_POST
@workspace_page(Role.ADMIN)
def changelog_settings(request: HttpRequest) -> HttpResponse:
    """The public changelog's switch, title and intro (admins, as the API's settings endpoint)."""
    form = ChangelogSettingsForm(request.POST, auto_id="changelog-%s")
    if form.is_valid():
        try:
            release_services.changelog_settings_update(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Changelog settings saved.")
            return redirect(
                reverse("portal:board-settings", kwargs={"workspace_slug": request.workspace.slug})
                + "#changelog"
            )
    current = selectors.board_settings(workspace=request.workspace)
    return _render(request, BoardSettingsForm(instance=current), current, form)


@require_POST
@workspace_page(Role.ADMIN)
def comment_moderate(request: HttpRequest, comment_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    comment = Comment.objects.filter(workspace=request.workspace, pk=comment_id).first()
    if comment is None:
        raise Http404("Not found.")
    hide = request.POST.get("action") != "show"
    try:
        services.comment_hide(comment=comment, actor=request.user, hidden=hide)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Comment hidden from the public board." if hide else "Comment shown again.")
    return redirect(
        reverse("portal:board-settings", kwargs={"workspace_slug": request.workspace.slug}) + "#moderation"
    )
