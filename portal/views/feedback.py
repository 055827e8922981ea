"""Feedback pages: the triage inbox with its detail pane and actions, and the CSV import.

The inbox keeps its filters in the query string; every link and form of the page
carries them, so an action knows which list to advance in. htmx requests get
partials: selecting an item swaps the pane; an action swaps the whole inbox body
(counts, list, the next item's pane) and pushes the next item's URL. Without
JavaScript the same URLs render full pages and actions redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url, retarget

from feedback import selectors, services
from feedback.channels.csv_import import feedback_csv_import
from feedback.models import FeedbackItem
from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.feedback import (
    MAX_BULK_IDS,
    BulkForm,
    CsvImportForm,
    FeatureFromFeedbackForm,
    IdListField,
    InboxFilterForm,
    LinkForm,
    MergeForm,
    StateActionForm,
)
from portal.views.companies import format_money
from productops.errors import DomainError
from productops.models import Role

PAGE_SIZE = 25
FEATURE_OPTIONS = 50
STATE_DONE = {
    FeedbackItem.State.REVIEWED: "Marked reviewed",
    FeedbackItem.State.ARCHIVED: "Archived",
    FeedbackItem.State.NEW: "Reopened",
}


# --- helpers --------------------------------------------------------------------------------


def _query(request: HttpRequest, **changes: Any) -> str:
    """The inbox's query string (its filters and page), with ``changes`` applied."""
    query: QueryDict = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    return query.urlencode()


def _qs(query: str) -> str:
    """``?query`` to append to a URL, or nothing."""
    return f"?{query}" if query else ""


def _with_query(url: str, query: str) -> str:
    return f"{url}{_qs(query)}"


def _item_url(request: HttpRequest, item: FeedbackItem | None, **changes: Any) -> str:
    if item is None:
        url = reverse("portal:inbox", args=[request.workspace.slug])
    else:
        url = reverse("portal:feedback-item", args=[request.workspace.slug, item.pk])
    return _with_query(url, _query(request, **changes))


def _item_or_404(request: HttpRequest, item_id: int) -> FeedbackItem:
    return get_object_or_404(selectors.feedback_item_for_triage(workspace=request.workspace), pk=item_id)


def _filters(request: HttpRequest) -> tuple[InboxFilterForm, dict[str, Any]]:
    form = InboxFilterForm(request.GET or None, workspace=request.workspace)
    form.is_valid()  # an invalid filter is shown and left out
    return form, form.filters()


def _safe_url(url: str) -> str:
    return url if url.lower().startswith(("https://", "http://")) else ""


def _pane_context(
    request: HttpRequest,
    item: FeedbackItem,
    *,
    link_form: LinkForm | None = None,
    error: str = "",
    query: str | None = None,
    linkable: list | None = None,
) -> dict[str, Any]:
    """What the detail pane shows for ``item`` (loaded by ``feedback_item_for_triage``);
    ``query`` is the inbox query string its forms carry (default: the request's)."""
    suggestions = selectors.feedback_triage_suggestions(item=item)
    suggested = [s.feature for s in suggestions["features"]]
    suggested_ids = {f.pk for f in suggested}
    options = suggested + [
        f
        for f in (
            linkable
            if linkable is not None
            else selectors.linkable_features(workspace=request.workspace, limit=FEATURE_OPTIONS)
        )
        if f.pk not in suggested_ids
    ]
    links = list(item.links.all())
    company = item.company or (item.contact.company if item.contact else None)
    selected_feature = (
        (link_form["feature"].value() if link_form is not None else None)
        or (suggested[0].pk if suggested else None)
        or ""
    )
    return {
        "item": item,
        "company": company,
        "also_asked_by": selectors.feedback_item_also_asked_by(item=item),
        "company_arr": format_money(company.arr, company.arr_currency) if company else "",
        "links": links,
        "source_url": _safe_url(item.source_url),
        "item_suggestions": suggestions["items"],
        "feature_suggestions": suggestions["features"],
        "feature_options": options,
        "selected_feature": str(selected_feature),
        "link_form": link_form or LinkForm(workspace=request.workspace),
        "pane_error": error,
        "qs": _qs(_query(request) if query is None else query),
    }


def _page_for(items: Any, request: HttpRequest, *, selected: FeedbackItem | None, page: int | None) -> Page:
    paginator = Paginator(items, PAGE_SIZE)
    in_list = selected is not None and page is None and "page" not in request.GET
    if in_list and items.filter(pk=selected.pk).exists():
        page = selectors.feedback_inbox_position(items, item=selected) // PAGE_SIZE + 1
    return paginator.get_page(page if page is not None else request.GET.get("page"))


def _inbox_context(
    request: HttpRequest,
    *,
    selected: FeedbackItem | None = None,
    auto_select: bool = False,
    page: int | None = None,
    notice: str = "",
    error: str = "",
    bulk_error: str = "",
    link_form: LinkForm | None = None,
    bulk_form: BulkForm | None = None,
) -> dict[str, Any]:
    workspace = request.workspace
    form, filters = _filters(request)
    items = selectors.feedback_inbox(workspace=workspace, **filters)
    other_filters = {key: value for key, value in filters.items() if key != "state"}
    counts = selectors.feedback_inbox_state_counts(workspace=workspace, **other_filters)
    page_obj = _page_for(items, request, selected=selected, page=page)
    rows = list(page_obj.object_list)
    if selected is None and auto_select and rows:
        selected = selectors.feedback_item_for_triage(workspace=workspace).get(pk=rows[0].pk)
    states = [
        {
            "value": value,
            "label": label,
            "count": counts[value],
            "query": _query(request, state=value, page=None),
        }
        for value, label in [*FeedbackItem.State.choices, ("all", "All")]
    ]
    query = _query(request, page=page_obj.number if page_obj.number > 1 else None)
    linkable = list(selectors.linkable_features(workspace=workspace, limit=FEATURE_OPTIONS))
    context = {
        "filter_form": form,
        "state": filters["state"],
        "states": states,
        "page": page_obj,
        "rows": rows,
        "selected": selected,
        "qs": _qs(query),
        "filters_active": any(other_filters.values()),
        "notice": notice,
        "bulk_error": bulk_error,
        "bulk_form": bulk_form or BulkForm(workspace=workspace),
        "bulk_features": linkable,
    }
    if selected is not None:
        context.update(
            _pane_context(request, selected, link_form=link_form, error=error, query=query, linkable=linkable)
        )
    return context


def _render_inbox(request: HttpRequest, status: int = 200, **kwargs: Any) -> HttpResponse:
    context = _inbox_context(request, **kwargs)
    template = "portal/feedback/inbox_body.html" if _partial(request) else "portal/feedback/inbox.html"
    return render(request, template, context, status=status)


def _partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _advance(request: HttpRequest, item: FeedbackItem, done: str) -> HttpResponse:
    """After an action on ``item``: on to the next item of the same filtered list."""
    _, filters = _filters(request)
    items = selectors.feedback_inbox(workspace=request.workspace, **filters)
    following = selectors.feedback_inbox_next(items, item=item)
    page = None
    if following is not None:
        page = selectors.feedback_inbox_position(items, item=following) // PAGE_SIZE + 1
    url = _item_url(request, following, page=page if page and page > 1 else None)
    notice = f"{done}." + ("" if following is not None else " Nothing left to triage here.")
    if not _partial(request):
        messages.success(request, notice)
        return redirect(url)
    if following is not None:
        following = _item_or_404(request, following.pk)
    response = _render_inbox(request, selected=following, page=page, notice=notice)
    return push_url(response, url)


def _refused(
    request: HttpRequest, item: FeedbackItem, exc: DomainError | None = None, **kwargs: Any
) -> HttpResponse:
    """The inbox again on ``item``, with the reason an action was refused."""
    status = exc.status_code if exc is not None else 400
    error = exc.detail if exc is not None else kwargs.pop("error", "")
    return _render_inbox(request, status=status, selected=item, error=error, **kwargs)


# --- pages ----------------------------------------------------------------------------------


@workspace_page()
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The list (new items first by default) with the first item open in the pane."""
    return _render_inbox(request, auto_select=True)


@workspace_page()
@require_GET
def feedback_item(request: HttpRequest, item_id: int) -> HttpResponse:
    """One item: the pane alone for htmx, else the inbox with this item open."""
    item = _item_or_404(request, item_id)
    if item.merged_into_id is not None:
        return redirect(_item_url(request, item.merged_into))
    if _partial(request):
        return render(request, "portal/feedback/pane.html", _pane_context(request, item))
    return _render_inbox(request, selected=item)


@workspace_page()
@require_GET
def feature_options(request: HttpRequest) -> HttpResponse:
    """The feature picker's options for a search (htmx)."""
    query = request.GET.get("q", "")[:200]
    features = selectors.linkable_features(workspace=request.workspace, query=query, limit=FEATURE_OPTIONS)
    return render(
        request, "portal/feedback/feature_options.html", {"feature_options": list(features), "q": query}
    )


# --- actions on one item ------------------------------------------------------------------------


@workspace_page()
@require_POST
def item_state(request: HttpRequest, item_id: int) -> HttpResponse:
    """Mark reviewed, archive or reopen, then on to the next item."""
    require_role(request, Role.CONTRIBUTOR)
    item = _item_or_404(request, item_id)
    form = StateActionForm(request.POST)
    if not form.is_valid():
        return _refused(request, item, error="Choose reviewed, archived or new.")
    to_state = form.cleaned_data["to"]
    try:
        services.feedback_item_change_state(item=item, to_state=to_state, actor=request.user)
    except DomainError as exc:
        return _refused(request, item, exc)
    return _advance(request, item, STATE_DONE[to_state])


@workspace_page()
@require_POST
def item_link(request: HttpRequest, item_id: int) -> HttpResponse:
    """Link the item to a feature (the link service marks the feature dirty), then on."""
    require_role(request, Role.CONTRIBUTOR)
    item = _item_or_404(request, item_id)
    form = LinkForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _refused(request, item, link_form=form)
    feature = form.cleaned_data["feature"]
    try:
        services.feedback_link_create(
            item=item, feature=feature, importance=form.cleaned_data["importance"], actor=request.user
        )
    except DomainError as exc:
        form.add_error("feature", exc.detail)
        return _render_inbox(request, status=exc.status_code, selected=item, link_form=form)
    return _advance(request, item, f"Linked to “{feature.title}”")


@workspace_page()
@require_POST
def item_merge(request: HttpRequest, item_id: int) -> HttpResponse:
    """Merge the item into a suggested duplicate (contributor, as the API's merge), then on."""
    require_role(request, Role.CONTRIBUTOR)
    item = _item_or_404(request, item_id)
    form = MergeForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _refused(request, item, error=" ".join(form.errors.get("into", ["Choose an item."])))
    try:
        target = services.feedback_items_merge(
            source=item, target=form.cleaned_data["into"], actor=request.user
        )
    except DomainError as exc:
        return _refused(request, item, exc)
    return _advance(request, item, f"Merged into #{target.pk}")


@workspace_page()
@require_POST
def suggestion_dismiss(request: HttpRequest, item_id: int, suggestion_id: int) -> HttpResponse:
    """Not a duplicate: hide the suggestion and stay on the item (it still needs triage)."""
    require_role(request, Role.CONTRIBUTOR)
    item = _item_or_404(request, item_id)
    suggestion = get_object_or_404(
        selectors.duplicate_suggestion_list(item=item, include_dismissed=True), pk=suggestion_id
    )
    try:
        services.duplicate_dismiss(suggestion=suggestion, actor=request.user)
    except DomainError as exc:
        return _refused(request, item, exc)
    if not _partial(request):
        messages.success(request, "Suggestion dismissed.")
        return redirect(_item_url(request, item))
    context = _pane_context(request, _item_or_404(request, item.pk))
    context["pane_notice"] = "Suggestion dismissed."
    return render(request, "portal/feedback/pane.html", context)


# --- bulk actions -------------------------------------------------------------------------------


@workspace_page()
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Mark reviewed, archive or link the selected rows: all of them or none."""
    require_role(request, Role.CONTRIBUTOR)
    form = BulkForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        errors = [*form.non_field_errors(), *form.errors.get("feature", []), *form.errors.get("ids", [])]
        return _render_inbox(
            request,
            status=400,
            auto_select=True,
            bulk_error=" ".join(errors) or "Check the form.",
            bulk_form=form,
        )
    data = form.cleaned_data
    ids = data["item_ids"]
    if data["action"] == "create_feature":
        # Nothing is written yet: the form asks for the feature's title and product.
        return _create_feature_form(
            request, FeatureFromFeedbackForm(initial={"ids": ids}, workspace=request.workspace), ids
        )
    try:
        if data["action"] == "link":
            count = len(
                services.feedback_items_link(
                    workspace=request.workspace,
                    item_ids=ids,
                    feature=data["feature"],
                    importance=data["importance"],
                    actor=request.user,
                )
            )
            done = f"Linked {count} item{'s' if count != 1 else ''} to “{data['feature'].title}”."
        else:
            changed = services.feedback_items_change_state(
                workspace=request.workspace, item_ids=ids, to_state=data["action"], actor=request.user
            )
            count = len(changed)
            verb = STATE_DONE[data["action"]].lower()
            done = f"{verb.capitalize()}: {count} item{'s' if count != 1 else ''}."
    except DomainError as exc:
        return _render_inbox(
            request, status=exc.status_code, auto_select=True, bulk_error=exc.detail, bulk_form=form
        )
    url = _item_url(request, None, page=None)
    if not _partial(request):
        messages.success(request, done)
        return redirect(url)
    return push_url(_render_inbox(request, auto_select=True, page=1, notice=done), url)


# --- a feature from feedback -------------------------------------------------------------------


def _create_feature_form(
    request: HttpRequest, form: FeatureFromFeedbackForm, ids: list[int], status: int = 200
) -> HttpResponse:
    """The form of "create a feature from this feedback" for the items ``ids``: in the inbox's
    pane for htmx, else a page of its own."""
    items = list(
        selectors.feedback_item_for_triage(workspace=request.workspace).filter(pk__in=ids)[:MAX_BULK_IDS]
    )
    items.sort(key=lambda item: ids.index(item.pk))
    context = {
        "form": form,
        "items": items,
        "default_title": services.feature_title_from_feedback(items[0]) if items else "",
        "qs": _qs(_query(request, ids=None)),
        "back_url": _item_url(request, items[0] if len(items) == 1 else None, ids=None),
    }
    if _partial(request):
        response = render(request, "portal/feedback/_create_feature.html", context, status=status)
        return retarget(response, "#feedback-pane")
    return render(request, "portal/feedback/create_feature.html", context, status=status)


def _ids(values: list[str]) -> list[int]:
    """The item ids asked for, as far as they are ids (the form reports what is wrong)."""
    try:
        return list(dict.fromkeys(IdListField(required=False).clean(values)))
    except ValidationError:
        return []


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def create_feature(request: HttpRequest) -> HttpResponse:
    """Create a feature from the items ``ids`` (one from the pane, several from the bulk bar),
    linked to each of them; then its page, where their customer impact shows."""
    if request.method == "GET":
        ids = _ids(request.GET.getlist("ids"))
        form = FeatureFromFeedbackForm(initial={"ids": ids}, workspace=request.workspace)
        return _create_feature_form(request, form, ids)
    form = FeatureFromFeedbackForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        ids = form.cleaned_data["ids"]
        try:
            feature = services.feature_create_from_feedback(
                workspace=request.workspace,
                actor=request.user,
                items=ids,
                data=form.feature_data(),
                importance=form.link_importance(),
            )
        except DomainError as exc:
            add_domain_error(form, exc, aliases={"items": "ids"})
            return _create_feature_form(request, form, ids, status=exc.status_code)
        else:
            count = len(set(ids))
            messages.success(
                request,
                f"Feature “{feature.title}” created from {count} feedback item{'s' if count != 1 else ''}.",
            )
            url = reverse("portal:feature", args=[request.workspace.slug, feature.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _create_feature_form(request, form, _ids(request.POST.getlist("ids")), status=400)


# --- CSV import ---------------------------------------------------------------------------------


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def csv_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV; show what was created, matched and skipped, with a row-level error table."""
    form = CsvImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = feedback_csv_import(
                workspace=request.workspace,
                actor=request.user,
                file=form.cleaned_data["file"],
                mapping=form.cleaned_data["mapping"],
            )
        except DomainError as exc:
            form.add_error("file" if exc.attr != "mapping" else None, exc.detail)
    context: dict[str, Any] = {"form": form, "report": report}
    if report is not None:
        context["skipped"] = len({error.line for error in report.errors})
    return render(request, "portal/feedback/import.html", context, status=400 if form.errors else 200)
