"""Forms of the feature pages: the quick "New feature" form, the full new-feature form, the
feature page's per-section edit forms (one form class, the fields of the sections it is given)
and the dependency form.

A section is a group of fields posted together (``SECTIONS``); the long form posts all of
them, a section's inline form posts one, and each names what it posts with a hidden
``section`` input, so an unticked checkbox or an emptied list is an edit, never a missing
field. The services decide: these forms parse input and show errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms

from portal.forms.pickers import PickerField, PickerMultipleField, bind_pickers
from productops.errors import DomainError
from productops.models import Workspace
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, Horizon, ScorecardCriterion, ScoringModel

#: Each model's own inputs, in the order its formula reads them (effort is a planning field:
#: RICE and value ÷ effort divide by it, WSJF uses it when no job size is set).
MODEL_INPUTS: dict[str, tuple[str, ...]] = {
    ScoringModel.RICE: ("reach", "impact", "confidence_pct"),
    ScoringModel.ICE: ("ice_impact", "ice_confidence", "ice_ease"),
    ScoringModel.WSJF: ("business_value", "time_criticality", "risk_reduction", "job_size"),
    ScoringModel.VALUE_EFFORT: ("value",),
    ScoringModel.CUSTOMER_IMPACT: (),
    ScoringModel.SCORECARD: (),  # the manual criteria's values
}
SCORING_INPUTS = tuple(name for names in MODEL_INPUTS.values() for name in names)
MODEL_NOTES = {
    ScoringModel.RICE: "Divided by the effort (Planning).",
    ScoringModel.VALUE_EFFORT: "Divided by the effort (Planning).",
    ScoringModel.WSJF: "The job size defaults to the effort (Planning).",
    ScoringModel.CUSTOMER_IMPACT: "Computed from the linked feedback and votes: nothing to set here.",
}
INPUT_LABELS = {
    "reach": "Reach",
    "impact": "RICE impact",
    "confidence_pct": "Confidence %",
    "ice_impact": "ICE impact",
    "ice_confidence": "ICE confidence",
    "ice_ease": "ICE ease",
    "business_value": "Business value",
    "time_criticality": "Time criticality",
    "risk_reduction": "Risk reduction",
    "job_size": "Job size",
    "value": "Value",
}

#: The sections of the feature page, each edited by one inline form; "details" is what the
#: page's single edit form posted before sections existed (no ``section`` input).
SECTIONS: dict[str, tuple[str, ...]] = {
    "basics": ("title", "product", "description", "public_title", "release_note", "is_public"),
    "planning": ("horizon", "planned_start", "target_date", "effort", "team", "owner"),
    "relations": ("initiative", "goals", "tags", "competitors"),
    "scoring": SCORING_INPUTS,
}
SECTION_LABELS = {
    "basics": "Basics",
    "planning": "Planning",
    "relations": "Relations",
    "scoring": "Scoring inputs",
}
LEGACY_SECTION = "details"
QUICK_SECTION = "quick"
QUICK_FIELDS = ("title", "product")
#: The quick form's ids, apart from those of the filter form on the same page.
QUICK_AUTO_ID = "newfeature-%s"
LEGACY_FIELDS = ("title", "description", "public_title", "release_note", "horizon", "effort")
RELATIONS = ("goals", "tags", "competitors")
RICE_IMPACTS = [("", "—"), ("0.25", "0.25 minimal"), ("0.5", "0.5 low"), ("1", "1 medium")]
RICE_IMPACTS += [("2", "2 high"), ("3", "3 massive")]


def sections_posted(values: Iterable[str]) -> list[str]:
    """The known sections named by the posted ``section`` inputs, in the page's order."""
    wanted = set(values)
    return [name for name in SECTIONS if name in wanted]


class NamesField(forms.CharField):
    """Names separated by commas (competitors): a list of distinct names; new ones are created
    by the service."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        names = [part.strip() for part in text.split(",") if part.strip()]
        if len(names) > 50:
            raise forms.ValidationError("At most 50 names.", code="too_many")
        return list(dict.fromkeys(names))


class RequiredSelect(forms.Select):
    """A required ``<select>`` without a placeholder: ``required`` without Django's look at the
    first choice (one more query of a model choice field)."""

    def use_required_attribute(self, initial: Any) -> bool:
        return not self.is_hidden


def _date_field(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _input_field(name: str) -> forms.Field:
    """The form field of one scoring input, with the service's bounds."""
    model_field = Feature._meta.get_field(name)
    if name == "impact":
        return forms.TypedChoiceField(
            choices=RICE_IMPACTS, coerce=Decimal, empty_value=None, required=False, label=INPUT_LABELS[name]
        )
    if name == "job_size":
        return forms.DecimalField(
            required=False,
            min_value=Decimal("0.01"),
            max_digits=10,
            decimal_places=2,
            label=INPUT_LABELS[name],
            help_text=model_field.help_text,
        )
    low, high = {"reach": (0, None), **roadmap_services.SCORE_INPUT_RANGES}[name]
    return forms.IntegerField(
        required=False,
        min_value=low,
        max_value=high,
        label=INPUT_LABELS[name],
        help_text=model_field.help_text,
    )


@dataclass
class ScoringGroup:
    """One scoring model's inputs on the form or the page: the active model's comes first."""

    model: str
    label: str
    active: bool
    note: str = ""
    fields: list = field(default_factory=list)  # bound fields (form) or (label, value) pairs (page)


def _model_order(active: str) -> list[str]:
    return [active, *(m for m in ScoringModel.values if m != active)]


class FeatureForm(forms.Form):
    """A feature's fields, those of ``sections`` only. ``feature=None``: a new feature."""

    def __init__(
        self,
        data: object = None,
        *,
        workspace: Workspace,
        feature: Feature | None = None,
        sections: Sequence[str] = tuple(SECTIONS),
        scoring_model: str = ScoringModel.RICE,
        criteria: Iterable[ScorecardCriterion] = (),
        auto_id: str = "id_%s",
        initial: dict | None = None,
    ) -> None:
        self.workspace = workspace
        self.feature = feature
        self.sections = list(sections)
        self.scoring_model = scoring_model
        names: list[str] = []
        for section in self.sections:
            if section == LEGACY_SECTION:
                names += [*LEGACY_FIELDS, *MODEL_INPUTS[ScoringModel(scoring_model)]]
            elif section == QUICK_SECTION:
                names += list(QUICK_FIELDS)
            else:
                names += list(SECTIONS[section])
        manual = [c for c in criteria if c.source == ScorecardCriterion.Source.MANUAL]
        with_criteria = "scoring" in self.sections or (
            LEGACY_SECTION in self.sections and scoring_model == ScoringModel.SCORECARD
        )
        self.criteria = manual if with_criteria else []
        self.computed_criteria = [c for c in criteria if c.source != ScorecardCriterion.Source.MANUAL]
        self.names = list(dict.fromkeys(names))
        self.criterion_before = self._criterion_initial()
        criterion_initial = {f"criterion_{c.key}": self.criterion_before.get(c.pk) for c in self.criteria}
        super().__init__(
            data, initial={**self._initial(), **criterion_initial, **(initial or {})}, auto_id=auto_id
        )
        for name in self.names:
            self.fields[name] = self._field(name)
        for criterion in self.criteria:
            self.fields[f"criterion_{criterion.key}"] = forms.DecimalField(
                label=criterion.name,
                required=False,
                min_value=0,
                max_value=10,
                max_digits=5,
                decimal_places=2,
                help_text="0-10",
            )
        bind_pickers(self, workspace)

    # --- fields ---------------------------------------------------------------------------

    def _field(self, name: str) -> forms.Field:
        workspace = self.workspace
        if name == "title":
            return forms.CharField(max_length=200)
        if name == "product":
            queryset = roadmap_selectors.product_list(workspace=workspace).only("name")
            if self.feature is not None:
                return forms.ModelChoiceField(queryset=queryset, empty_label=None, widget=RequiredSelect)
            return forms.ModelChoiceField(queryset=queryset, empty_label="Choose a product")
        if name == "description":
            return forms.CharField(
                required=False,
                label="Description (internal)",
                widget=forms.Textarea(attrs={"rows": 5}),
                help_text="For the team; customers never see it.",
            )
        if name == "public_title":
            return forms.CharField(
                required=False,
                max_length=200,
                label="Customer-facing title",
                help_text="What release notes and the changelog call it; the title when empty.",
            )
        if name == "release_note":
            return forms.CharField(
                required=False,
                label="Release note",
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text="One or two customer-facing sentences (Markdown) for the generated release notes.",
            )
        if name == "is_public":
            return forms.BooleanField(required=False, label="Show on the public roadmap")
        if name == "horizon":
            return forms.ChoiceField(choices=[("", "Unscheduled"), *Horizon.choices], required=False)
        if name == "planned_start":
            return _date_field("Planned start")
        if name == "target_date":
            return _date_field("Target date", "On or after the planned start.")
        if name == "effort":
            return forms.DecimalField(
                required=False,
                min_value=Decimal("0.01"),
                max_digits=10,
                decimal_places=2,
                help_text="Greater than 0.",
            )
        if name == "team":
            queryset = roadmap_selectors.team_list(workspace=workspace).only("name")
            return forms.ModelChoiceField(queryset=queryset, required=False, empty_label="No team")
        if name == "owner":
            return PickerField(kind="members", required=False, label="Owner")
        if name == "initiative":
            queryset = (
                roadmap_selectors.initiative_list(workspace=workspace).select_related(None).only("title")
            )
            return forms.ModelChoiceField(queryset=queryset, required=False, empty_label="No initiative")
        if name == "goals":
            queryset = (
                roadmap_selectors.goal_list(workspace=workspace)
                .select_related(None)
                .prefetch_related(None)
                .only("title", "period")
            )
            return forms.ModelMultipleChoiceField(
                queryset=queryset, required=False, widget=forms.CheckboxSelectMultiple
            )
        if name == "tags":
            return PickerMultipleField(kind="tags", required=False, label="Tags")
        if name == "competitors":
            return NamesField(
                required=False,
                label="Competitors that have it",
                help_text="Names separated by commas; a new name is added to the workspace.",
            )
        return _input_field(name)

    def _initial(self) -> dict:
        feature = self.feature
        if feature is None:
            return {}
        initial: dict[str, Any] = {}
        for name in (*LEGACY_FIELDS, "is_public", "planned_start", "target_date", *SCORING_INPUTS):
            initial[name] = getattr(feature, name)
        if feature.impact is not None:
            initial["impact"] = feature.impact.normalize()
        initial["product"] = feature.product_id
        initial["team"] = feature.team_id
        initial["initiative"] = feature.initiative_id
        initial["owner"] = feature.owner
        if "relations" in self.sections:
            initial["goals"] = list(feature.goals.all())
            initial["tags"] = list(feature.tags.all())
            initial["competitors"] = [c.name for c in feature.competitors.all()]
        return initial

    def _criterion_initial(self) -> dict[int, Decimal]:
        if self.feature is None or not self.criteria:
            return {}
        return roadmap_selectors.feature_criterion_values(feature=self.feature)

    # --- what the services get -------------------------------------------------------------

    def feature_data(self) -> dict:
        """The fields for :func:`roadmap.services.feature_update` (or ``feature_create``): every
        scalar of the form's sections, and a relation only when it changed (so an unchanged list
        is not rewritten nor audited)."""
        data: dict[str, Any] = {}
        for name in self.names:
            value = self.cleaned_data.get(name)
            if name in RELATIONS:
                if self._relation_changed(name, value):
                    data[name] = value
            else:
                data[name] = value
        return data

    def _relation_changed(self, name: str, value: list) -> bool:
        if self.feature is None:
            return bool(value)
        before = self.initial.get(name) or []
        if name == "goals":
            return {g.pk for g in value} != {g.pk for g in before}
        names = [getattr(v, "name", v) for v in before]
        return {str(n).casefold() for n in value} != {str(n).casefold() for n in names}

    def criterion_values(self) -> dict:
        """The manual scorecard values that changed, by criterion key (``None`` clears one)."""
        values = {}
        for criterion in self.criteria:
            value = self.cleaned_data.get(f"criterion_{criterion.key}")
            if value != self.criterion_before.get(criterion.pk):
                values[criterion.key] = value
        return values

    def add_service_error(self, exc: DomainError) -> None:
        """A service's refusal on the field it names (scorecard values: ``values.<key>``)."""
        attr = exc.attr or ""
        if attr.startswith("values."):
            attr = f"criterion_{attr.removeprefix('values.')}"
        self.add_error(attr if attr in self.fields else None, exc.detail)

    # --- what the templates read -----------------------------------------------------------

    def bound_section(self, section: str) -> list:
        return [self[name] for name in SECTIONS.get(section, ()) if name in self.fields]

    def scoring_groups(self) -> list[ScoringGroup]:
        """The scoring inputs by model, the active model first; another model without inputs on
        this form (customer impact, a scorecard without manual criteria) is left out."""
        groups = []
        for model in _model_order(self.scoring_model):
            fields_ = [self[name] for name in MODEL_INPUTS[model] if name in self.fields]
            if model == ScoringModel.SCORECARD:
                fields_ = [self[f"criterion_{c.key}"] for c in self.criteria]
            note = MODEL_NOTES.get(model, "")
            if model == ScoringModel.SCORECARD and self.computed_criteria:
                note = "Computed: " + ", ".join(
                    f"{c.name} ({c.get_source_display().lower()})" for c in self.computed_criteria
                )
            if not fields_ and model != self.scoring_model:
                continue
            groups.append(
                ScoringGroup(
                    model=model,
                    label=ScoringModel(model).label,
                    active=model == self.scoring_model,
                    note=note,
                    fields=fields_,
                )
            )
        return groups

    def fieldsets(self) -> list[dict[str, Any]]:
        """The sections this form shows, in the page's order: ``complete`` when the form holds
        the whole section (then it posts the section's name: a missing checkbox is "off")."""
        shown = []
        for section in SECTIONS:
            fields_ = self.bound_section(section)
            if section == "scoring" and self.criteria:
                fields_ += [self[f"criterion_{c.key}"] for c in self.criteria]
            if fields_:
                complete = section in self.sections
                shown.append(
                    {
                        "name": section,
                        "label": SECTION_LABELS[section],
                        "complete": complete,
                        "fields": fields_,
                    }
                )
        return shown


def _shown(value: Any) -> str:
    """A scoring input as people write it: 0.5, not 0.50; "—" when unset."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def scoring_display(
    *, feature: Feature, scoring_model: str, criteria: list[dict[str, Any]]
) -> list[ScoringGroup]:
    """The feature's scoring inputs as (label, value) rows by model, the active model first.
    ``criteria``: the scorecard's criteria as ``{"label", "value", "source"}`` (value None: unset)."""
    groups = []
    for model in _model_order(scoring_model):
        rows = [(INPUT_LABELS[name], _shown(getattr(feature, name))) for name in MODEL_INPUTS[model]]
        if model == ScoringModel.SCORECARD:
            rows = [
                (
                    c["label"],
                    _shown(c["value"]) if c["source"] == ScorecardCriterion.Source.MANUAL else "computed",
                )
                for c in criteria
            ]
        if not rows and model != scoring_model:
            continue
        groups.append(
            ScoringGroup(
                model=model,
                label=ScoringModel(model).label,
                active=model == scoring_model,
                note=MODEL_NOTES.get(model, ""),
                fields=rows,
            )
        )
    return groups


class DependencyForm(forms.Form):
    """ "Depends on": a feature of the workspace, picked by title or ``#id``."""

    depends_on = PickerField(kind="features", label="Depends on")

    def __init__(self, data: object = None, *, workspace: Workspace, auto_id: str = "dep-%s") -> None:
        super().__init__(data, auto_id=auto_id)
        bind_pickers(self, workspace)
