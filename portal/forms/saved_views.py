"""Forms of saved views and share links: saving a roadmap page's filters, renaming and sharing
a view, making a read-only link. They check shape; ``roadmap.services`` checks the rules."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.http import QueryDict
from django.utils import timezone

from roadmap.models import SHARE_LINK_DEFAULT_FIELDS, SHARE_LINK_FIELDS, SavedView
from roadmap.services import SAVED_VIEW_KEYS, SHARE_LINK_DEFAULT_DAYS, SHARE_LINK_MAX_DAYS

#: The roadmap page (URL name) of each kind of view, and back.
KIND_PAGES = {
    SavedView.Kind.BOARD: "portal:roadmap-board",
    SavedView.Kind.KANBAN: "portal:roadmap-kanban",
    SavedView.Kind.TIMELINE: "portal:roadmap-timeline",
    SavedView.Kind.MATRIX: "portal:matrix",
}
PAGE_KINDS = {page.split(":", 1)[1]: kind for kind, page in KIND_PAGES.items()}


def query_from_string(kind: str, query_string: str) -> dict[str, str]:
    """A page's GET query as the filters a view of ``kind`` stores: its known keys only (a
    ``page`` or ``all`` in the URL is not a filter), the last value of each, empty ones dropped."""
    params = QueryDict(query_string or "")
    return {key: params[key] for key in SAVED_VIEW_KEYS.get(kind, ()) if params.get(key)}


class SavedViewSaveForm(forms.Form):
    """ "Save this view" on a roadmap page: a name, shared or not, and the page's filters."""

    name = forms.CharField(max_length=100, label="Name", help_text="e.g. “Mobile, next quarter”.")
    shared = forms.BooleanField(required=False, label="Share with the workspace")
    page = forms.ChoiceField(choices=[(page, page) for page in PAGE_KINDS], widget=forms.HiddenInput)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def kind(self) -> str:
        return PAGE_KINDS[self.cleaned_data["page"]]

    def filters(self) -> dict[str, str]:
        return query_from_string(self.kind(), self.cleaned_data.get("query") or "")


class SavedViewEditForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")
    shared = forms.BooleanField(required=False, label="Shared with the workspace")


class ShareLinkForm(forms.Form):
    """A read-only link: until when, and which internal fields it shows (unticked: hidden)."""

    expires_on = forms.DateField(
        label="Expires on",
        help_text=f"The link stops working at the end of this day; at most {SHARE_LINK_MAX_DAYS} days away.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    show = forms.MultipleChoiceField(
        choices=list(SHARE_LINK_FIELDS.items()),
        required=False,
        label="Also show",
        widget=forms.CheckboxSelectMultiple,
        help_text="Title, product, status and horizon are always shown; anything unticked stays hidden.",
    )

    def __init__(self, data: object = None) -> None:
        today = timezone.localdate()
        super().__init__(
            data,
            initial={
                "expires_on": today + timedelta(days=SHARE_LINK_DEFAULT_DAYS),
                "show": list(SHARE_LINK_DEFAULT_FIELDS),
            },
        )
        self.fields["expires_on"].widget.attrs.update(
            min=today.isoformat(), max=(today + timedelta(days=SHARE_LINK_MAX_DAYS)).isoformat()
        )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if day < today:
            raise forms.ValidationError("Pick today or a later day.")
        if day > today + timedelta(days=SHARE_LINK_MAX_DAYS):
            raise forms.ValidationError(f"A link lasts at most {SHARE_LINK_MAX_DAYS} days.")
        return day

    def expires_at(self) -> datetime:
        day = self.cleaned_data["expires_on"]
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
