"""The roadmap's bulk bar (board and kanban) and the comment forms of the feature page."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.forms.pickers import PickerMultipleField, bind_pickers
from portal.forms.roadmap import HORIZON_CHOICES, UNSCHEDULED
from productops.models import Workspace
from roadmap import selectors as roadmap_selectors
from roadmap.models import COMMENT_MAX_LENGTH, FeatureStatus
from roadmap.services import BULK_MAX_FEATURES

KEEP = ""
NO_TEAM = "none"


class FeatureIdsField(forms.Field):
    """The ticked cards (``features``, repeated): ids, at most :data:`BULK_MAX_FEATURES`."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        ids: list[int] = []
        for raw in values:
            text = str(raw).strip()
            if not (text.isascii() and text.isdigit()):
                raise forms.ValidationError("Pick cards from the board.", code="invalid")
            if int(text) not in ids:
                ids.append(int(text))
        return ids

    def validate(self, value: list[int]) -> None:
        if not value:
            raise forms.ValidationError("Select at least one card.", code="required")
        if len(value) > BULK_MAX_FEATURES:
            raise forms.ValidationError(
                f"At most {BULK_MAX_FEATURES} cards at once ({len(value)} selected).", code="too_many"
            )


class BulkEditForm(forms.Form):
    """What to set on every ticked card; an empty field keeps each card's value."""

    features = FeatureIdsField()
    horizon = forms.ChoiceField(
        choices=[(KEEP, "— keep —"), *HORIZON_CHOICES], required=False, label="Horizon"
    )
    status = forms.ChoiceField(
        choices=[(KEEP, "— keep —"), *FeatureStatus.choices], required=False, label="Status"
    )
    reason = forms.CharField(
        required=False, max_length=500, label="Reason", help_text="Needed to skip a step or reopen."
    )
    team = forms.ChoiceField(required=False, label="Team")
    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="— keep —", label="Product")
    add_tag = PickerMultipleField(kind="tags", required=False, label="Add tag", max_length=60)

    def __init__(self, data: object = None, *, workspace: Workspace, can_manage: bool) -> None:
        super().__init__(data)
        self.teams = {str(t.pk): t for t in roadmap_selectors.team_list(workspace=workspace).only("name")}
        self.fields["team"].choices = [
            (KEEP, "— keep —"),
            (NO_TEAM, "No team"),
            *((pk, t.name) for pk, t in self.teams.items()),
        ]
        self.fields["product"].queryset = roadmap_selectors.product_list(workspace=workspace).only("name")
        self.fields["add_tag"].help_text = "Type a tag's name (a new one is created)."
        bind_pickers(self, workspace)
        self.can_manage = can_manage
        if not can_manage:
            # Changing a status needs a product manager (the server refuses it anyway).
            del self.fields["status"]
            del self.fields["reason"]

    def clean_add_tag(self) -> str:
        names = self.cleaned_data["add_tag"]
        if len(names) > 1:
            raise forms.ValidationError("Add one tag at a time.", code="too_many")
        return names[0] if names else ""

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors and not self.changes():
            raise forms.ValidationError("Choose what to change.", code="required")
        return cleaned

    def changes(self) -> dict[str, Any]:
        """The service's ``changes`` (``roadmap.services.features_bulk_update``)."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        if data.get("horizon"):
            changes["horizon"] = "" if data["horizon"] == UNSCHEDULED else data["horizon"]
        if data.get("status"):
            changes["status"] = data["status"]
            changes["reason"] = data.get("reason", "")
        if data.get("team") == NO_TEAM:
            changes["team"] = None
        elif data.get("team"):
            changes["team"] = self.teams[data["team"]]
        if data.get("product") is not None:
            changes["product"] = data["product"]
        if data.get("add_tag"):
            changes["add_tag"] = data["add_tag"]
        return changes


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=COMMENT_MAX_LENGTH,
        label="Comment",
        help_text="Internal. Mention a member with @username: they see it on their dashboard and get "
        "an e-mail, unless they opted out.",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write something."},
    )
