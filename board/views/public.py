"""The customer-facing pages under ``/p/<workspace_slug>/`` (namespace ``board``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from board import selectors, services
from board.forms import CommentForm, IdeaForm, SignInForm
from board.throttling import lookup_hit, throttle_hit, throttled_response
from board.views.access import board_context, board_page, sign_in_session, sign_out_session
from board.views.embedding import embeddable
from feedback.services import vote_cast, vote_remove
from productops.errors import DomainError
from productops.safe_redirect import safe_next
from roadmap.models import FeatureStatus

PAGE_SIZE = 30


def _url(request: HttpRequest, name: str, **kwargs: object) -> str:
    return reverse(f"board:{name}", kwargs={"workspace_slug": request.workspace.slug, **kwargs})


def _int_or_none(value: str | None) -> int | None:
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return int(value) if value and value.isascii() and value.isdecimal() and len(value) < 19 else None


def _throttled(request: HttpRequest, **keys: object) -> HttpResponse | None:
    if throttle_hit(request, **keys):
        return None
    return throttled_response(request, board_context(request))


@board_page()
@embeddable
def board_home(request: HttpRequest) -> HttpResponse:
    product_id = _int_or_none(request.GET.get("product"))
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "top")
    features = selectors.board_feature_list(
        workspace=request.workspace, contact=request.contact, product_id=product_id, status=status, sort=sort
    )
    page = Paginator(features, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "board/home.html",
        board_context(
            request,
            page=page,
            products=selectors.board_products(workspace=request.workspace),
            product_id=product_id,
            status=status if status in FeatureStatus.values else "",
            sort=sort if sort in selectors.BOARD_SORTS else "top",
            statuses=FeatureStatus.choices,
        ),
    )


def _feature_or_404(request: HttpRequest, feature_id: int):
    feature = selectors.board_feature(
        workspace=request.workspace, feature_id=feature_id, contact=request.contact
    )
    if feature is None:
        raise Http404("Not found.")
    return feature


@board_page()
@embeddable
def feature_detail(
    request: HttpRequest, feature_id: int, comment_form: CommentForm | None = None
) -> HttpResponse:
    feature = _feature_or_404(request, feature_id)
    return render(
        request,
        "board/feature.html",
        board_context(
            request,
            feature=feature,
            comments=selectors.comment_list(feature=feature),
            comment_form=comment_form or CommentForm(),
        ),
        status=400 if comment_form is not None else 200,
    )


@require_POST
@board_page(verified=True)
def feature_vote(request: HttpRequest, feature_id: int) -> HttpResponse:
    feature = _feature_or_404(request, feature_id)
    if (response := _throttled(request, contact_id=request.contact.pk)) is not None:
        return response
    try:
        if request.POST.get("action") == "unvote":
            vote_remove(contact=request.contact, feature=feature)
        else:
            vote_cast(contact=request.contact, feature=feature)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_url(request, "feature", feature_id=feature.pk))
    if request.htmx:
        feature = _feature_or_404(request, feature_id)
        return render(request, "board/partials/vote.html", board_context(request, feature=feature))
    return redirect(_next(request, request.POST.get("next"), _url(request, "feature", feature_id=feature.pk)))


def _next(request: HttpRequest, candidate: str | None, fallback: str) -> str:
    """A page of this board only."""
    return safe_next(request, candidate, fallback=fallback, within=f"/p/{request.workspace.slug}/")


@require_POST
@board_page(verified=True)
def feature_comment(request: HttpRequest, feature_id: int) -> HttpResponse:
    feature = _feature_or_404(request, feature_id)
    form = CommentForm(request.POST)
    if form.is_spam():
        return redirect(_url(request, "feature", feature_id=feature.pk))
    if (response := _throttled(request, contact_id=request.contact.pk)) is not None:
        return response
    if form.is_valid():
        try:
            services.comment_create(
                workspace=request.workspace,
                contact=request.contact,
                feature=feature,
                body=form.cleaned_data["body"],
            )
        except DomainError as exc:
            form.add_error("body", exc.detail)
        else:
            messages.success(request, "Thanks, your comment is posted.")
            return redirect(_url(request, "feature", feature_id=feature.pk) + "#comments")
    return feature_detail.__wrapped__(request, feature_id, comment_form=form)


@require_http_methods(["GET", "POST"])
@board_page(verified=True)
def submit_idea(request: HttpRequest) -> HttpResponse:
    form = IdeaForm(request.POST or None)
    similar = []
    if request.method == "POST":
        if form.is_spam():
            messages.success(request, "Thanks, we have your idea.")
            return redirect(_url(request, "mine"))
        if form.is_valid():
            text = form.cleaned_data["text"]
            if request.POST.get("step") == "check":
                if not lookup_hit(contact_id=request.contact.pk):
                    return throttled_response(request, board_context(request))
                similar = selectors.similar_public_features(workspace=request.workspace, text=text)
            else:
                if (response := _throttled(request, contact_id=request.contact.pk)) is not None:
                    return response
                try:
                    services.idea_submit(
                        workspace=request.workspace,
                        contact=request.contact,
                        text=text,
                        submission_id=form.cleaned_data["submission_id"],
                    )
                except DomainError as exc:
                    form.add_error("text", exc.detail)
                else:
                    messages.success(request, "Thanks, we have your idea. You can follow it here.")
                    return redirect(_url(request, "mine"))
    return render(
        request,
        "board/submit.html",
        board_context(request, form=form, similar=similar, checked=request.POST.get("step") == "check"),
        status=400 if form.errors else 200,
    )


@board_page(verified=True)
def similar_ideas(request: HttpRequest) -> HttpResponse:
    """htmx partial: public features like the text being typed on the submit page."""
    text = (request.GET.get("text") or "")[:2000]
    if not lookup_hit(contact_id=request.contact.pk):
        return throttled_response(request, board_context(request))
    similar = (
        selectors.similar_public_features(workspace=request.workspace, text=text) if len(text) >= 10 else []
    )
    return render(
        request, "board/partials/similar.html", board_context(request, similar=similar, checked=bool(text))
    )


@board_page(verified=True)
def mine(request: HttpRequest) -> HttpResponse:
    return render(
        request, "board/mine.html", board_context(request, **selectors.my_feedback(contact=request.contact))
    )


@board_page()
@embeddable
def public_roadmap(request: HttpRequest) -> HttpResponse:
    groups = selectors.public_roadmap(workspace=request.workspace)
    columns = [
        ("now", "Now", groups["now"]),
        ("next", "Next", groups["next"]),
        ("later", "Later", groups["later"]),
    ]
    shipped = selectors.public_recently_shipped(workspace=request.workspace)
    return render(request, "board/roadmap.html", board_context(request, columns=columns, shipped=shipped))


@require_http_methods(["GET", "POST"])
@board_page(sign_in_page=True)
def sign_in(request: HttpRequest) -> HttpResponse:
    next_path = _next(request, request.POST.get("next") or request.GET.get("next"), "")
    form = SignInForm(request.POST or None, initial={"next": next_path})
    if request.method == "POST":
        if form.is_spam():
            return redirect(_url(request, "sign-in-sent"))
        if form.is_valid():
            email = form.cleaned_data["email"]
            if (response := _throttled(request, email=email)) is not None:
                return response
            try:
                services.magic_link_request(workspace=request.workspace, email=email, next_path=next_path)
            except DomainError as exc:
                form.add_error("email", exc.detail)
            else:
                # The same answer whether or not the address is known; a redirect, so reloading
                # the page does not ask for another e-mail.
                return redirect(_url(request, "sign-in-sent"))
    return render(
        request, "board/sign_in.html", board_context(request, form=form), status=400 if form.errors else 200
    )


@board_page(sign_in_page=True)
def sign_in_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "board/sign_in_sent.html", board_context(request))


@require_http_methods(["GET", "POST"])
@board_page(sign_in_page=True)
@sensitive_variables()  # the magic link's token, here and in the sign-in below
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that follow links do not use the link up); POST signs in."""
    if request.method == "GET":
        return render(request, "board/verify.html", board_context(request, token=token))
    try:
        contact, link = services.magic_link_verify(workspace=request.workspace, token=token)
    except DomainError as exc:
        return render(request, "board/verify.html", board_context(request, error=exc.detail), status=400)
    sign_in_session(request, contact)
    messages.success(request, "You are signed in.")
    return redirect(_next(request, link.next_path, _url(request, "home")))


@require_POST
@board_page(sign_in_page=True)
def sign_out(request: HttpRequest) -> HttpResponse:
    sign_out_session(request, request.workspace.pk)
    messages.success(request, "You are signed out.")
    return redirect(_url(request, "home"))
