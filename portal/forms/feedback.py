"""Forms of the feedback pages: inbox filters, triage actions, a feature from feedback, CSV import,
companies and contacts."""

from __future__ import annotations

from typing import Any

from django import forms

from feedback import selectors
from feedback.channels.csv_import import FIELDS as CSV_FIELDS
from feedback.channels.csv_import import MAX_CSV_BYTES
from feedback.models import Company, Contact, FeedbackItem, Importance, Segment
from portal.forms.pickers import PickerField, PickerMultipleField, bind_pickers
from productops.models import Workspace
from roadmap import selectors as roadmap_selectors
from roadmap.models import Feature

ANY = [("", "Any")]
STATE_CHOICES = [*FeedbackItem.State.choices, ("all", "All")]


MAX_BULK_IDS = 100


class IdListField(forms.Field):
    """Repeated whole numbers (``ids=3&ids=7``); whether they exist is the service's check."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise forms.ValidationError("Ids are whole numbers.", code="invalid") from None
        if any(i < 1 or i > 2**63 - 1 for i in ids):
            raise forms.ValidationError("Ids are whole numbers.", code="invalid")
        if len(ids) > MAX_BULK_IDS:
            # Bulk actions act on one page of the inbox; more is not a person clicking.
            raise forms.ValidationError(f"Select at most {MAX_BULK_IDS} items.", code="too_many")
        return ids


# --- inbox -----------------------------------------------------------------------------


class InboxFilterForm(forms.Form):
    """The inbox's GET filters; an invalid value is ignored (and shown as an error)."""

    state = forms.ChoiceField(choices=STATE_CHOICES, required=False, widget=forms.HiddenInput)
    q = forms.CharField(
        label="Search", required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )
    source = forms.ChoiceField(label="Source", choices=ANY + FeedbackItem.Source.choices, required=False)
    company = PickerField(kind="companies", label="Company", required=False, help_text="")
    segment = forms.ChoiceField(label="Segment", choices=ANY + Segment.choices, required=False)
    tag = forms.CharField(label="Tag", required=False, max_length=60)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bind_pickers(self, workspace)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of :func:`feedback.selectors.feedback_inbox` from the valid fields."""
        data = self.cleaned_data if self.is_bound else {}
        valid = {name: data.get(name) for name in self.fields if name not in self.errors}
        company = valid.get("company")
        return {
            "state": valid.get("state") or FeedbackItem.State.NEW,
            "source": valid.get("source") or "",
            "company_id": company.pk if company else None,
            "segment": valid.get("segment") or "",
            "tag": valid.get("tag") or "",
            "query": valid.get("q") or "",
        }


class StateActionForm(forms.Form):
    to = forms.ChoiceField(
        choices=[
            (FeedbackItem.State.REVIEWED, "Mark reviewed"),
            (FeedbackItem.State.ARCHIVED, "Archive"),
            (FeedbackItem.State.NEW, "Reopen"),
        ]
    )


class LinkForm(forms.Form):
    """Link to a feature: any feature of the workspace is accepted (the service refuses merged
    or declined ones); the select offers the linkable ones."""

    feature = forms.IntegerField(label="Feature", min_value=1, widget=forms.Select)
    importance = forms.ChoiceField(
        label="Importance", choices=Importance.choices, initial=Importance.IMPORTANT
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_feature(self) -> Feature:
        feature = (
            Feature.objects.for_workspace(self.workspace).filter(pk=self.cleaned_data["feature"]).first()
        )
        if feature is None:
            raise forms.ValidationError("Choose a feature of this workspace.")
        return feature


class MergeForm(forms.Form):
    into = forms.IntegerField(min_value=1)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_into(self) -> FeedbackItem:
        target = (
            FeedbackItem.objects.for_workspace(self.workspace).filter(pk=self.cleaned_data["into"]).first()
        )
        if target is None:
            raise forms.ValidationError("Choose feedback of this workspace to merge into.")
        return target


class BulkForm(forms.Form):
    """Bulk triage of the checked rows, or of every row of the page ("select all on page")."""

    ACTIONS = [
        ("reviewed", "Mark reviewed"),
        ("archived", "Archive"),
        ("link", "Link to feature"),
        ("create_feature", "Create a feature"),
    ]

    action = forms.ChoiceField(choices=ACTIONS)
    ids = IdListField(required=False)
    all_on_page = forms.BooleanField(required=False, label="Select all on page")
    page_ids = IdListField(required=False)
    feature = forms.IntegerField(label="Feature", min_value=1, required=False, widget=forms.Select)
    importance = forms.ChoiceField(
        label="Importance", choices=Importance.choices, initial=Importance.IMPORTANT, required=False
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        ids = data.get("page_ids") if data.get("all_on_page") else data.get("ids")
        ids = list(dict.fromkeys(ids or []))
        if not ids:
            raise forms.ValidationError("Select at least one item.")
        data["item_ids"] = ids
        data["importance"] = data.get("importance") or Importance.IMPORTANT
        if data.get("action") == "link":
            feature = None
            if data.get("feature"):
                feature = Feature.objects.for_workspace(self.workspace).filter(pk=data["feature"]).first()
            if feature is None:
                self.add_error("feature", "Choose the feature to link the items to.")
            data["feature"] = feature
        return data


# --- CSV import ------------------------------------------------------------------------------

CSV_FIELD_LABELS = {
    "text": "Text",
    "contact_email": "Contact e-mail",
    "contact_name": "Contact name",
    "company_name": "Company name",
    "company_domain": "Company domain",
    "company_segment": "Company segment",
    "company_arr": "Company ARR",
    "source_ref": "External id",
    "kind": "Kind",
    "importance": "Importance",
    "deal_value": "Deal value",
    "tags": "Tags",
    "received_at": "Received at",
}


class CsvImportForm(forms.Form):
    """The file, and optionally which column holds each field (by header name)."""

    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8, comma-, semicolon- or tab-separated, a header line first, "
        f"at most {MAX_CSV_BYTES // 2**20} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CSV_FIELDS:
            self.fields[f"col_{name}"] = forms.CharField(
                label=f"{CSV_FIELD_LABELS.get(name, name)} column",
                required=False,
                max_length=200,
                help_text="Header name in the file." if name == "text" else "",
            )

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{name}"] for name in CSV_FIELDS]

    def clean_file(self) -> Any:
        file = self.cleaned_data["file"]
        if file.size > MAX_CSV_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_CSV_BYTES // 2**20} MB.")
        return file

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        mapping: dict[str, str] = {}
        for name in CSV_FIELDS:
            header = (data.get(f"col_{name}") or "").strip()
            if not header:
                continue
            if header.casefold() in {h.casefold() for h in mapping}:
                self.add_error(f"col_{name}", "This column is mapped to another field already.")
                continue
            mapping[header] = name
        data["mapping"] = mapping
        return data


# --- companies -------------------------------------------------------------------------------

SORT_CHOICES = [
    ("name", "Name (A–Z)"),
    ("-name", "Name (Z–A)"),
    ("-arr", "ARR (highest first)"),
    ("arr", "ARR (lowest first)"),
    ("-feedback", "Feedback (most first)"),
    ("feedback", "Feedback (fewest first)"),
]
assert {value for value, _ in SORT_CHOICES} == set(selectors.COMPANY_SORTS)


class CompanyFilterForm(forms.Form):
    q = forms.CharField(
        label="Name or domain",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    segment = forms.ChoiceField(label="Segment", choices=ANY + Segment.choices, required=False)
    lifecycle = forms.ChoiceField(label="Lifecycle", choices=ANY + Company.Lifecycle.choices, required=False)
    sort = forms.ChoiceField(label="Sort by", choices=SORT_CHOICES, required=False)

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of :func:`feedback.selectors.company_directory` from the valid fields."""
        data = self.cleaned_data if self.is_bound else {}
        valid = {name: data.get(name) for name in self.fields if name not in self.errors}
        return {
            "query": valid.get("q") or "",
            "segment": valid.get("segment") or "",
            "lifecycle_stage": valid.get("lifecycle") or "",
            "sort": valid.get("sort") or "name",
        }


class CompanyForm(forms.Form):
    """A company's fields as ``feedback.services.company_create`` / ``company_update`` take them;
    the account owners (product managers and up, as ``company_account_owners_set``) only when
    ``can_manage``."""

    name = forms.CharField(label="Name", max_length=200)
    domain = forms.CharField(
        label="Domain",
        max_length=200,
        required=False,
        help_text="e.g. acme.com. New contacts with this e-mail domain join the company.",
    )
    segment = forms.ChoiceField(label="Segment", choices=[("", "Unknown"), *Segment.choices], required=False)
    plan = forms.CharField(label="Plan", max_length=60, required=False)
    arr = forms.DecimalField(
        label="ARR", min_value=0, max_digits=14, decimal_places=2, required=False, initial=0
    )
    arr_currency = forms.ChoiceField(label="Currency", choices=[])
    lifecycle_stage = forms.ChoiceField(
        label="Lifecycle", choices=Company.Lifecycle.choices, initial=Company.Lifecycle.ACTIVE
    )
    crm_external_id = forms.CharField(label="CRM id", max_length=100, required=False)
    do_not_contact = forms.BooleanField(
        label="Do not contact",
        required=False,
        help_text="Never e-mail this company's contacts (close-the-loop notices included).",
    )
    account_owners = PickerMultipleField(kind="members", required=False, label="Account owners")

    SERVICE_FIELDS = (
        "name",
        "domain",
        "segment",
        "plan",
        "arr",
        "arr_currency",
        "lifecycle_stage",
        "crm_external_id",
        "do_not_contact",
    )

    def __init__(
        self,
        *args: Any,
        workspace: Workspace,
        company: Company | None = None,
        owners: list | None = None,
        can_manage: bool = False,
        **kwargs: Any,
    ) -> None:
        if company is not None:
            kwargs.setdefault("initial", {name: getattr(company, name) for name in self.SERVICE_FIELDS})
            kwargs["initial"]["account_owners"] = owners or []
        super().__init__(*args, **kwargs)
        # The reporting currency and those with a rate (the service refuses any other).
        currencies = [workspace.reporting_currency, *sorted(workspace.currency_rates or {})]
        if company is not None:
            currencies.append(company.arr_currency)
        self.fields["arr_currency"].choices = [(c, c) for c in dict.fromkeys(currencies)]
        self.fields["arr_currency"].initial = workspace.reporting_currency
        if can_manage:
            bind_pickers(self, workspace)
        else:
            del self.fields["account_owners"]

    def company_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in self.SERVICE_FIELDS}
        data["arr"] = data["arr"] if data["arr"] is not None else 0
        return data

    def owners(self) -> list | None:
        """The account owners to set, or None when the form has no such field."""
        return self.cleaned_data["account_owners"] if "account_owners" in self.fields else None


# --- contacts --------------------------------------------------------------------------------


class ContactFilterForm(forms.Form):
    q = forms.CharField(
        label="Name or e-mail",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_bound else {}
        return {"query": "" if "q" in self.errors else data.get("q") or ""}


class ContactForm(forms.Form):
    """A contact's fields as ``feedback.services.contact_create`` / ``contact_update`` take them."""

    email = forms.EmailField(label="E-mail", max_length=254)
    name = forms.CharField(label="Name", max_length=200, required=False)
    company = PickerField(kind="companies", required=False, label="Company")
    crm_external_id = forms.CharField(label="CRM id", max_length=100, required=False)

    SERVICE_FIELDS = ("email", "name", "company", "crm_external_id")

    def __init__(
        self, *args: Any, workspace: Workspace, contact: Contact | None = None, **kwargs: Any
    ) -> None:
        if contact is not None:
            kwargs.setdefault("initial", {name: getattr(contact, name) for name in self.SERVICE_FIELDS})
        super().__init__(*args, **kwargs)
        if contact is None:
            self.fields["company"].help_text += " Left empty: the company whose domain is the e-mail's."
        bind_pickers(self, workspace)

    def contact_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.SERVICE_FIELDS}


# --- a feature from feedback ---------------------------------------------------------------

OWN_IMPORTANCE = [("", "Each item's own importance")]


class FeatureFromFeedbackForm(forms.Form):
    """``feedback.services.feature_create_from_feedback``: the items, a title (default: the
    first item's text), the product, and one importance for every link (default: each item's)."""

    ids = IdListField(required=True)
    title = forms.CharField(
        label="Feature title",
        max_length=200,
        required=False,
        help_text="Left empty: the first line of the feedback.",
    )
    product = forms.ModelChoiceField(label="Product", queryset=None, empty_label="Choose a product…")
    importance = forms.ChoiceField(
        label="Importance of the links", choices=OWN_IMPORTANCE + Importance.choices, required=False
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ids"].error_messages["required"] = "Select at least one item."
        self.fields["product"].queryset = roadmap_selectors.product_list(workspace=workspace).only(
            "id", "name"
        )

    def feature_data(self) -> dict[str, Any]:
        return {"title": self.cleaned_data["title"].strip(), "product": self.cleaned_data["product"]}

    def link_importance(self) -> str | None:
        return self.cleaned_data["importance"] or None


class FeedbackSettingsForm(forms.Form):
    """The feedback settings page (admins): whether suggestions are made by meaning too."""

    semantic_suggestions = forms.BooleanField(
        label="Suggest duplicates and features by meaning (offline model)",
        required=False,
        help_text="Also suggest feedback and features that ask for the same thing in other words, "
        "with an embedding model that runs on this server (nothing leaves it). Off: only feedback "
        "and features that share words are suggested; suggestions already made are kept.",
    )
