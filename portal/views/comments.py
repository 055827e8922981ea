"""Internal comments on the feature page (its "Comments" section) and the dashboard's
mentions: post, edit, delete, mark as read.

Every action is a plain form post answered with a redirect to ``#comments`` (PRG); a refused
one (an empty or too long body) renders the comment form alone with its inline error (400).
With htmx the section is swapped in place: posting, saving and deleting answer the section,
"Edit" the comment's form. Contributors comment; the author or a product manager edits or
deletes; viewers read.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.bulk import CommentForm
from productops.errors import DomainError
from productops.models import Role
from productops.safe_redirect import safe_next
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureComment


def _feature(request: HttpRequest, feature_id: int) -> Feature:
    feature = roadmap_selectors.feature_detail(workspace=request.workspace, feature_id=feature_id)
    if feature is None:
        raise Http404("Feature not found.")
    return feature


def _comment(request: HttpRequest, feature: Feature, comment_id: int) -> FeatureComment:
    comment = roadmap_selectors.feature_comment_list(feature=feature).filter(pk=comment_id).first()
    if comment is None:
        raise Http404("Not a comment of this feature.")
    comment.workspace = request.workspace
    comment.feature = feature
    return comment


def _require_editor(request: HttpRequest, comment: FeatureComment) -> None:
    """Its author (a contributor or more) or a product manager; else 403, nothing written."""
    require_role(request, Role.CONTRIBUTOR)
    if comment.author_id != request.user.pk:
        require_role(request, Role.PRODUCT_MANAGER)


def _back(request: HttpRequest, feature: Feature, anchor: str = "comments") -> HttpResponse:
    return redirect(reverse("portal:feature", args=[request.workspace.slug, feature.pk]) + f"#{anchor}")


def _section(request: HttpRequest, feature: Feature, form: CommentForm | None = None) -> HttpResponse:
    comments, more = roadmap_selectors.feature_comment_thread(feature=feature)
    thread = {"comments": comments, "more": more, "form": form or CommentForm()}
    return render(request, "portal/roadmap/_comments.html", {"f": feature, "thread": thread})


def _form_page(
    request: HttpRequest, feature: Feature, form: CommentForm, comment: FeatureComment | None, status: int
) -> HttpResponse:
    return render(
        request,
        "portal/roadmap/comment_form.html",
        {"f": feature, "form": form, "comment": comment},
        status=status,
    )


@require_POST
@workspace_page()
def comment_add(request: HttpRequest, feature_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    feature = _feature(request, feature_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comment = roadmap_services.feature_comment_create(
                feature=feature, actor=request.user, body=form.cleaned_data["body"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if request.htmx:
                return _section(request, feature)
            messages.success(request, "Comment posted.")
            return _back(request, feature, f"comment-{comment.pk}")
    if request.htmx:
        return _section(request, feature, form)
    return _form_page(request, feature, form, None, status=400)


@require_http_methods(["GET", "POST"])
@workspace_page()
def comment_edit(request: HttpRequest, feature_id: int, comment_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    feature = _feature(request, feature_id)
    comment = _comment(request, feature, comment_id)
    _require_editor(request, comment)
    if request.method != "POST":
        form = CommentForm(initial={"body": comment.body})
        if request.htmx:
            return render(
                request, "portal/roadmap/_comment_form.html", {"f": feature, "form": form, "comment": comment}
            )
        return _form_page(request, feature, form, comment, status=200)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            roadmap_services.feature_comment_update(
                comment=comment, actor=request.user, body=form.cleaned_data["body"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if request.htmx:
                return _section(request, feature)
            messages.success(request, "Comment saved.")
            return _back(request, feature, f"comment-{comment.pk}")
    if request.htmx:
        return render(
            request, "portal/roadmap/_comment_form.html", {"f": feature, "form": form, "comment": comment}
        )
    return _form_page(request, feature, form, comment, status=400)


@require_POST
@workspace_page()
def comment_delete(request: HttpRequest, feature_id: int, comment_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    feature = _feature(request, feature_id)
    comment = _comment(request, feature, comment_id)
    _require_editor(request, comment)
    roadmap_services.feature_comment_delete(comment=comment, actor=request.user)
    if request.htmx:
        return _section(request, feature)
    messages.success(request, "Comment deleted.")
    return _back(request, feature)


@require_POST
@workspace_page()
def mentions_seen(request: HttpRequest) -> HttpResponse:
    """Mark the member's mentions as read (all, or the ``mention`` ids posted)."""
    ids = [int(v) for v in request.POST.getlist("mention") if v.isascii() and v.isdigit()]
    count = roadmap_services.mentions_mark_seen(
        workspace=request.workspace, user=request.user, mention_ids=ids or None
    )
    messages.success(request, f"{count} mention{'s' if count != 1 else ''} marked as read.")
    fallback = reverse("portal:dashboard", args=[request.workspace.slug])
    return redirect(
        safe_next(
            request, request.POST.get("next"), fallback=fallback, within=f"/w/{request.workspace.slug}/"
        )
        + "#mentions-h"
    )
