"""The roadmap's bulk bar and card checkboxes, and the feature page's comment thread.

Template tags, so the shared board, kanban and feature pages need only an include (their
views are not involved): ``{% bulk_state as bulk %}`` (the bar), ``{% bulk_card f as pick %}``
(a card's checkbox and its refusal), ``{% feature_comments f as thread %}`` (the thread).
The state lives on the request: the bulk view (``portal.views.bulk``) sets it before it
renders a page again with each refused card's error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django import template
from django.http import HttpRequest

from portal.access import has_role
from portal.forms.bulk import BulkEditForm, CommentForm
from productops.models import Role
from roadmap import selectors as roadmap_selectors

register = template.Library()

SELECT = "select"


@dataclass
class BulkState:
    active: bool
    form: BulkEditForm | None = None
    errors: dict[int, str] = field(default_factory=dict)
    selected: set[int] = field(default_factory=set)


def select_mode(request: HttpRequest) -> bool:
    """``?select=1`` on the page (or on the page a card's form came from)."""
    if request.GET.get(SELECT) == "1":
        return True
    came_from = request.POST.get("next", "") if request.method == "POST" else ""
    return parse_qs(urlsplit(came_from).query).get(SELECT) == ["1"]


def bulk_state(request: HttpRequest) -> BulkState:
    state = getattr(request, "_bulk_state", None)
    if state is None:
        membership = getattr(request, "membership", None)
        active = membership is not None and has_role(membership, Role.CONTRIBUTOR) and select_mode(request)
        state = BulkState(active=active)
        if active:
            state.form = BulkEditForm(
                workspace=request.workspace, can_manage=has_role(membership, Role.PRODUCT_MANAGER)
            )
        request._bulk_state = state
    return state


@register.simple_tag(name="bulk_state", takes_context=True)
def bulk_state_tag(context: template.Context) -> BulkState:
    return bulk_state(context["request"])


@register.simple_tag(takes_context=True)
def bulk_card(context: template.Context, feature: Any) -> dict[str, Any] | None:
    """A card's part of the bulk edit: None outside select mode."""
    state = bulk_state(context["request"])
    if not state.active:
        return None
    return {"selected": feature.pk in state.selected, "error": state.errors.get(feature.pk, "")}


@register.simple_tag(takes_context=True)
def feature_comments(context: template.Context, feature: Any) -> dict[str, Any]:
    """The thread of the feature page: the view's (after a post), or the newest comments."""
    thread = context.get("thread")
    if thread:
        return thread
    comments, more = roadmap_selectors.feature_comment_thread(feature=feature)
    return {"comments": comments, "more": more, "form": context.get("comment_form") or CommentForm()}
