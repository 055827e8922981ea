"""Forms of the release pages and settings. They check shape; ``releases.services`` checks the rules.

Choices of members and releases are given as lists the view loaded once
(:class:`ObjectChoiceField`), so a page with a form per row runs no query per row; a feature
to add is picked by a searchable picker (``portal.forms.pickers``), never listed whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms

from portal.forms.pickers import PickerField, bind_pickers
from productops.models import Workspace
from releases import services as release_services
from releases.models import (
    ChangeType,
    ChecklistCategory,
    ChecklistState,
    ReleaseStatus,
    ScopeState,
)
from roadmap import selectors as roadmap_selectors

DATE_WIDGET = {"type": "date"}


class ObjectChoiceField(forms.ChoiceField):
    """A select of objects loaded beforehand, cleaned to the object (or None when left empty)."""

    def __init__(
        self,
        *,
        objects: Iterable[Any] = (),
        label_of: Callable[[Any], str] = str,
        empty_label: str | None = "—",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_objects(objects, label_of=label_of, empty_label=empty_label)

    def set_objects(
        self, objects: Iterable[Any], *, label_of: Callable[[Any], str] = str, empty_label: str | None = "—"
    ) -> None:
        self.by_key = {str(obj.pk): obj for obj in objects}
        choices = [(key, label_of(obj)) for key, obj in self.by_key.items()]
        self.choices = ([("", empty_label)] if empty_label is not None else []) + choices

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        return self.by_key.get(value) if value else None


def member_label(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def release_label(release: Any) -> str:
    return f"{release.name} {release.version}"


def _members(field: forms.Field, members: Iterable[Any]) -> None:
    field.set_objects(members, label_of=member_label, empty_label="Nobody")


class ReleaseFilterForm(forms.Form):
    OPEN = "open"
    STATUS_CHOICES = [("", "All statuses"), (OPEN, "Open (to ship)"), *ReleaseStatus.choices]

    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="All products")
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)

    def __init__(self, data: object, *, workspace: Workspace) -> None:
        super().__init__(data)
        self.fields["product"].queryset = roadmap_selectors.product_list(workspace=workspace).only("name")

    def filters(self) -> dict:
        """The valid filters (an invalid one is shown and ignored)."""
        self.is_valid()
        return {"product": self.cleaned_data.get("product"), "status": self.cleaned_data.get("status") or ""}


class ReleaseForm(forms.Form):
    """A release's plan; ``with_product`` for a new release (the product is fixed after)."""

    product = ObjectChoiceField(empty_label=None)
    name = forms.CharField(max_length=120)
    version = forms.CharField(max_length=64, help_text="Fits the product’s scheme, e.g. 1.4.0 or 2027.03.")
    planned_date = forms.DateField(
        required=False, label="Planned date", widget=forms.DateInput(attrs=DATE_WIDGET)
    )
    owner = ObjectChoiceField(required=False)
    summary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Customer-facing summary (plain text).",
    )
    is_public = forms.BooleanField(
        required=False, initial=True, label="Public: on the changelog once shipped"
    )

    def __init__(
        self,
        data: object = None,
        *,
        members: Iterable[Any],
        products: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        _members(self.fields["owner"], members)
        if products is None:
            del self.fields["product"]
        else:
            self.fields["product"].set_objects(products, empty_label=None)

    def release_data(self) -> dict:
        names = ["name", "version", "planned_date", "owner", "summary", "is_public"]
        if "product" in self.fields:
            names.insert(0, "product")
        return {name: self.cleaned_data.get(name) for name in names}


class StatusForm(forms.Form):
    """Planned, in progress, code complete; shipping and cancelling have their own actions."""

    status = forms.ChoiceField(
        choices=[(s.value, s.label) for s in ReleaseStatus if s in release_services.MANUAL_STATUSES]
    )
    reason = forms.CharField(required=False, max_length=500)


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=500, label="Why is it cancelled?", widget=forms.Textarea(attrs={"rows": 2})
    )


class ScopeAddForm(forms.Form):
    """ "Add to release": a feature picked by title or ``#id`` (searchable), which must be one
    of ``features``, those that may join (``release_feature_candidates``)."""

    feature = PickerField(kind="features", label="Feature")
    is_must_have = forms.BooleanField(required=False, initial=True, label="Must-have")
    change_type = forms.ChoiceField(choices=ChangeType.choices, initial=ChangeType.NEW, label="Change")

    def __init__(
        self, data: object = None, *, workspace: Workspace, features: Iterable[Any], **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        bind_pickers(self, workspace)
        self.allowed = {feature.pk for feature in features}

    def clean_feature(self) -> Any:
        feature = self.cleaned_data["feature"]
        if feature.pk not in self.allowed:
            raise forms.ValidationError(
                f"“{feature.title}” cannot join this release: it is shipped, declined, of another "
                "product or already in an open release.",
                code="not_allowed",
            )
        return feature


class ScopeItemForm(forms.Form):
    """One scope row: must-have and change type (product managers), state (contributors too)."""

    is_must_have = forms.BooleanField(required=False, label="Must-have")
    state = forms.ChoiceField(choices=ScopeState.choices, label="State")
    change_type = forms.ChoiceField(choices=ChangeType.choices, label="Change")

    def __init__(self, data: object = None, *, planning: bool = True, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        if not planning:
            del self.fields["is_must_have"]
            del self.fields["change_type"]


class ScopeMoveForm(forms.Form):
    to_release = ObjectChoiceField(label="Move to")

    def __init__(self, data: object = None, *, releases: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["to_release"].set_objects(releases, label_of=release_label, empty_label=None)


class TaskForm(forms.Form):
    """A new launch checklist task."""

    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=ChecklistCategory.choices, initial=ChecklistCategory.OTHER)
    owner = ObjectChoiceField(required=False)
    due_date = forms.DateField(required=False, label="Due", widget=forms.DateInput(attrs=DATE_WIDGET))
    is_required = forms.BooleanField(required=False, initial=True, label="Required for readiness")

    def __init__(self, data: object = None, *, members: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _members(self.fields["owner"], members)


class TaskUpdateForm(forms.Form):
    """One checklist row: its owner, due date and state (contributors), and with ``planning``
    its title, category and whether it is required (product managers)."""

    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=ChecklistCategory.choices)
    is_required = forms.BooleanField(required=False, label="Required")
    owner = ObjectChoiceField(required=False)
    due_date = forms.DateField(required=False, label="Due", widget=forms.DateInput(attrs=DATE_WIDGET))
    state = forms.ChoiceField(choices=ChecklistState.choices)

    PLANNING = ("title", "category", "is_required")

    def __init__(
        self, data: object = None, *, members: Iterable[Any], planning: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        _members(self.fields["owner"], members)
        if not planning:
            for name in self.PLANNING:
                del self.fields[name]


class TaskTickForm(forms.Form):
    state = forms.ChoiceField(choices=ChecklistState.choices)


class NotesForm(forms.Form):
    """The notes draft; with ``preview_url`` the textarea posts itself there as one types (htmx)
    and the answer, the sanitised HTML, replaces ``#notes-preview``."""

    notes = forms.CharField(
        required=False,
        strip=False,
        max_length=release_services.MAX_NOTES,
        label="Release notes (Markdown)",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}),
    )

    def __init__(self, data: object = None, *, preview_url: str = "", **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        if preview_url:
            self.fields["notes"].widget.attrs.update(
                {
                    "hx-post": preview_url,
                    "hx-trigger": "input changed delay:400ms",
                    "hx-target": "#notes-preview",
                    "hx-swap": "innerHTML",
                    "hx-sync": "this:replace",
                }
            )


class MetricForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="e.g. “Teams using SSO”.")
    unit = forms.CharField(max_length=20, required=False)
    baseline = forms.DecimalField(max_digits=16, decimal_places=4)
    target = forms.DecimalField(max_digits=16, decimal_places=4)
    review_date = forms.DateField(label="Review on", widget=forms.DateInput(attrs=DATE_WIDGET))
    key_result = ObjectChoiceField(
        required=False, label="Key result", help_text="Optional: read the actual from its current value."
    )

    def __init__(self, data: object = None, *, key_results: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["key_result"].set_objects(
            key_results, label_of=lambda kr: f"{kr.metric} ({kr.goal.title})", empty_label="None"
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("baseline") is not None and cleaned.get("baseline") == cleaned.get("target"):
            self.add_error("target", "Target must differ from the baseline.")
        return cleaned


class ActualForm(forms.Form):
    value = forms.DecimalField(max_digits=16, decimal_places=4, label="Actual")
    recorded_on = forms.DateField(
        required=False, label="Measured on", widget=forms.DateInput(attrs=DATE_WIDGET)
    )
    note = forms.CharField(max_length=200, required=False)


class ShipForm(forms.Form):
    move_unfinished_to = ObjectChoiceField(
        required=False, label="Move unfinished nice-to-haves to", empty_label="Back to the backlog"
    )
    force = forms.BooleanField(required=False, label="Ship without the unfinished must-haves (admins)")
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Why it ships without them",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data: object = None, *, releases: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["move_unfinished_to"].set_objects(
            releases, label_of=release_label, empty_label="Back to the backlog"
        )


class ReleaseSettingsForm(forms.Form):
    risk_window_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        label="Risk window (days)",
        help_text="A release this close to its planned date with must-haves not started is at risk.",
    )


class TemplateItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=ChecklistCategory.choices, initial=ChecklistCategory.OTHER)
    relative_due = forms.CharField(
        max_length=30,
        initial="0 days",
        label="Due",
        help_text="From the planned date, e.g. “-7 days”, “-2 weeks”, “+1 day”.",
    )
    is_required = forms.BooleanField(required=False, initial=True, label="Required")
    default_owner = ObjectChoiceField(required=False, label="Default owner")

    def __init__(self, data: object = None, *, members: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _members(self.fields["default_owner"], members)


class ChangelogSettingsForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Publish the changelog")
    title = forms.CharField(max_length=120, required=False, help_text="Defaults to “<workspace> changelog”.")
    intro = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown above the releases (plain text).",
    )
