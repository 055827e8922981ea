"""Picker form fields: a text input with a ``<datalist>`` htmx fills as you type.

Usage in a form::

    company = PickerField(kind="companies", required=False)
    tags = PickerMultipleField(kind="tags", required=False)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        bind_pickers(self, workspace)

``cleaned_data["company"]`` is the Company (or None); a ``PickerMultipleField`` gives a list
of rows, and for ``kind="tags"`` a list of names (a new name is allowed: the roadmap services
create tags and competitors on the fly). ``members`` pickers give the member's ``User``.
Values are typed or chosen as ``#<id> label`` or the exact name/e-mail/domain/username
(:mod:`portal.pickers`); several values are separated by commas. Initial values may be rows
or names. Without JavaScript it is a plain text input that resolves the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import Model
from django.urls import reverse

from portal import pickers
from productops.models import Workspace

MAX_VALUES = 50


class PickerInput(forms.TextInput):
    template_name = "portal/partials/picker_input.html"

    def __init__(self, *, kind: str, multiple: bool = False, attrs: dict | None = None) -> None:
        super().__init__(attrs={"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.kind = kind
        self.multiple = multiple
        self.url = ""

    def format_value(self, value: Any) -> str | None:
        if value in (None, "", []):
            return None
        values = value if isinstance(value, list | tuple) else [value]
        shown = []
        for item in values:
            if isinstance(item, Model):
                model_kind = "members" if self.kind == "members" and hasattr(item, "username") else self.kind
                if model_kind == "members":
                    shown.append(f"#{item.pk} {pickers.user_label(item)}")
                else:
                    shown.append(pickers.option_value(self.kind, item))
            else:
                shown.append(str(item))
        return ", ".join(shown)

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        list_id = f"{widget['attrs'].get('id') or 'id_' + name}-options"
        widget["attrs"]["list"] = list_id
        widget["list_id"] = list_id
        widget["url"] = f"{self.url}?field={name}" + ("&multiple=1" if self.multiple else "")
        widget["kind"] = self.kind
        return context


class PickerField(forms.CharField):
    """One row of the workspace, picked by ``#id`` or exact name (see the module docstring)."""

    multiple = False

    def __init__(self, *, kind: str, **kwargs: Any) -> None:
        if kind not in pickers.KINDS:
            raise ValueError(f"unknown picker kind {kind!r}")
        self.kind = kind
        self.workspace: Workspace | None = None
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("widget", PickerInput(kind=kind, multiple=self.multiple))
        kwargs.setdefault("help_text", self._help())
        super().__init__(**kwargs)

    def _help(self) -> str:
        what = {
            "features": "a feature's title",
            "companies": "a company's name or domain",
            "contacts": "a contact's e-mail",
            "tags": "a tag's name",
            "members": "a member's username or e-mail",
        }[self.kind]
        many = "; separate several with commas" if self.multiple else ""
        return f"Type to search: pick a suggestion, or type {what} or #id{many}."

    def bind(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.widget.url = reverse("portal:picker", args=[workspace.slug, self.kind])

    def _resolve(self, text: str) -> Model:
        assert self.workspace is not None, "call bind_pickers(form, workspace) in the form's __init__"
        row = pickers.resolve(kind=self.kind, workspace=self.workspace, text=text)
        if row is None:
            raise forms.ValidationError(
                f"No single match for “{text[:100]}”: pick a suggestion or type its #id.", code="not_found"
            )
        return pickers.instance(self.kind, row)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        if not text:
            return None
        return self._resolve(text)


class PickerMultipleField(PickerField):
    """Several rows (a list, in the order given, without repeats); tags: a list of names."""

    multiple = True

    def clean(self, value: Any) -> list:
        text = forms.CharField.clean(self, value) or ""
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if len(parts) > MAX_VALUES:
            raise forms.ValidationError(f"At most {MAX_VALUES} values.", code="too_many")
        if self.kind == "tags":
            return list(dict.fromkeys(parts))
        rows: dict[int, Model] = {}
        for part in parts:
            row = self._resolve(part)
            rows.setdefault(row.pk, row)
        return list(rows.values())


def bind_pickers(form: forms.BaseForm, workspace: Workspace) -> None:
    """Scope every picker of ``form`` to ``workspace`` (and point its widget at the search URL)."""
    for field in form.fields.values():
        if isinstance(field, PickerField):
            field.bind(workspace)


def picker_initial(rows: Iterable[Model]) -> list[Model]:
    """Initial value of a multiple picker from related rows (e.g. ``feature.tags.all()``)."""
    return list(rows)
