"""Forms of the roadmap pages: filters, moves, status changes, the feature edit form, scoring."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms

from productops.models import Workspace
from productops.validation import PLANNING_LATEST, clamp_planning_date
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus, Horizon, ScorecardCriterion, ScoringModel

UNSCHEDULED = "unscheduled"
HORIZON_CHOICES = [*Horizon.choices, (UNSCHEDULED, "Unscheduled")]
SCORE_COLUMNS = {
    ScoringModel.RICE: "score_rice",
    ScoringModel.ICE: "score_ice",
    ScoringModel.WSJF: "score_wsjf",
    ScoringModel.VALUE_EFFORT: "score_value_effort",
    ScoringModel.CUSTOMER_IMPACT: "score_customer_impact",
    ScoringModel.SCORECARD: "score_scorecard",
}


class RoadmapFilterForm(forms.Form):
    """GET filters shared by the roadmap views; every choice is scoped to the workspace."""

    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="All products")
    goal = forms.ModelChoiceField(queryset=None, required=False, empty_label="All goals")
    initiative = forms.ModelChoiceField(queryset=None, required=False, empty_label="All initiatives")
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All teams")
    tag = forms.ModelChoiceField(queryset=None, required=False, empty_label="All tags", to_field_name="name")

    def __init__(self, data: object, *, workspace: Workspace) -> None:
        super().__init__(data)
        self.fields["product"].queryset = roadmap_selectors.product_list(workspace=workspace).only("name")
        self.fields["goal"].queryset = (
            roadmap_selectors.goal_list(workspace=workspace)
            .select_related(None)
            .prefetch_related(None)
            .only("title", "period")
        )
        self.fields["initiative"].queryset = (
            roadmap_selectors.initiative_list(workspace=workspace).select_related(None).only("title")
        )
        self.fields["team"].queryset = roadmap_selectors.team_list(workspace=workspace).only("name")
        self.fields["tag"].queryset = roadmap_selectors.tag_list(workspace=workspace).only("name")

    def filters(self) -> dict:
        """The valid filters as selector arguments (an invalid one is shown as an error and ignored)."""
        self.is_valid()
        names = ("product", "goal", "initiative", "team", "tag")
        return {name: self.cleaned_data.get(name) for name in names}


class TimelineFilterForm(RoadmapFilterForm):
    start = forms.DateField(
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        label="From month",
        help_text="YYYY-MM",
    )
    months = forms.IntegerField(required=False, min_value=1, max_value=36, initial=12, label="Months")

    def span(self, default_start: date) -> tuple[date, date, int]:
        """The first and last day shown and the number of months, inside the planning range
        (2000-01 to 2100-12): a month outside it is moved to its nearest end."""
        self.is_valid()
        months = self.cleaned_data.get("months") or 12
        start = clamp_planning_date(self.cleaned_data.get("start") or default_start).replace(day=1)
        latest_start = date(PLANNING_LATEST.year - (months - 1) // 12, 12 - (months - 1) % 12, 1)
        start = min(start, latest_start)
        year, month = divmod(start.month - 1 + months, 12)
        end_next = date(start.year + year, month + 1, 1)
        return start, date.fromordinal(end_next.toordinal() - 1), months


class MoveForm(forms.Form):
    horizon = forms.ChoiceField(choices=HORIZON_CHOICES, label="Move to")

    def horizon_value(self) -> str:
        value = self.cleaned_data["horizon"]
        return "" if value == UNSCHEDULED else value


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=FeatureStatus.choices, label="Status")
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        help_text="Needed to skip a step or reopen.",
    )
    # Separate from the internal reason: what the customers who asked read (comms.loop).
    customer_message = forms.CharField(
        required=False,
        max_length=2000,
        label="Message to customers who asked",
        help_text="Shipped or declined: e-mailed to them, previewed before you confirm. "
        "The reason stays internal.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class MatrixFilterForm(RoadmapFilterForm):
    model = forms.ChoiceField(
        choices=[("", "Workspace model"), *ScoringModel.choices], required=False, label="Value axis"
    )

    field_order = ["model"]

    def scoring_model(self, default: str) -> str:
        self.is_valid()
        return self.cleaned_data.get("model") or default


class FeatureEditForm(forms.Form):
    """Title, description, the customer-facing title and release note, horizon, effort and the
    active scoring model's inputs."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    public_title = forms.CharField(
        required=False,
        max_length=200,
        label="Customer-facing title",
        help_text="What release notes and the changelog call it; the title when empty.",
    )
    release_note = forms.CharField(
        required=False,
        label="Release note",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One or two customer-facing sentences (Markdown) for the generated release notes.",
    )
    horizon = forms.ChoiceField(choices=[("", "Unscheduled"), *Horizon.choices], required=False)
    effort = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_digits=10,
        decimal_places=2,
        help_text="Greater than 0.",
    )

    BASE_FIELDS = ("title", "description", "public_title", "release_note", "horizon", "effort")
    MODEL_FIELDS = {
        ScoringModel.RICE: ["reach", "impact", "confidence_pct"],
        ScoringModel.ICE: ["ice_impact", "ice_confidence", "ice_ease"],
        ScoringModel.WSJF: ["business_value", "time_criticality", "risk_reduction", "job_size"],
        ScoringModel.VALUE_EFFORT: ["value"],
        ScoringModel.CUSTOMER_IMPACT: [],
        ScoringModel.SCORECARD: [],
    }
    RICE_IMPACTS = [("", "—"), ("0.25", "0.25 minimal"), ("0.5", "0.5 low"), ("1", "1 medium")]
    RICE_IMPACTS += [("2", "2 high"), ("3", "3 massive")]

    def __init__(
        self,
        data: object = None,
        *,
        feature: Feature,
        scoring_model: str,
        criteria: list[ScorecardCriterion],
    ) -> None:
        initial = {name: getattr(feature, name) for name in self.BASE_FIELDS}
        self.model_fields = self.MODEL_FIELDS[ScoringModel(scoring_model)]
        for name in self.model_fields:
            value = getattr(feature, name)
            initial[name] = value.normalize() if name == "impact" and value is not None else value
        self.criteria = [c for c in criteria if c.source == ScorecardCriterion.Source.MANUAL]
        if scoring_model == ScoringModel.SCORECARD:
            values = {v.criterion_id: v.value for v in feature.criterion_values.all()}
            for criterion in self.criteria:
                initial[f"criterion_{criterion.key}"] = values.get(criterion.pk)
        else:
            self.criteria = []
        super().__init__(data, initial=initial)
        for name in self.model_fields:
            self.fields[name] = self._model_field(name)
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

    def _model_field(self, name: str) -> forms.Field:
        field = Feature._meta.get_field(name)
        if name == "impact":
            return forms.TypedChoiceField(
                choices=self.RICE_IMPACTS,
                coerce=Decimal,
                empty_value=None,
                required=False,
                label="RICE impact",
            )
        if name == "job_size":
            return forms.DecimalField(
                required=False, min_value=Decimal("0.01"), max_digits=10, decimal_places=2, label="Job size"
            )
        bounds = {"reach": (0, None), **roadmap_services.SCORE_INPUT_RANGES}[name]
        label = str(field.verbose_name).replace("_", " ").capitalize()
        labels = {"confidence_pct": "Confidence %", "ice_impact": "ICE impact", "ice_ease": "ICE ease"}
        labels["ice_confidence"] = "ICE confidence"
        return forms.IntegerField(
            required=False,
            min_value=bounds[0],
            max_value=bounds[1],
            label=labels.get(name, label),
            help_text=field.help_text,
        )

    def feature_data(self) -> dict:
        names = [*self.BASE_FIELDS, *self.model_fields]
        return {name: self.cleaned_data.get(name) for name in names}

    def criterion_values(self) -> dict:
        return {c.key: self.cleaned_data.get(f"criterion_{c.key}") for c in self.criteria}

    def criterion_fields(self) -> list:
        return [self[f"criterion_{c.key}"] for c in self.criteria]

    def model_bound_fields(self) -> list:
        return [self[name] for name in self.model_fields]


class ScoringForm(forms.Form):
    """The workspace's scoring model and each scorecard criterion's weight."""

    scoring_model = forms.ChoiceField(choices=ScoringModel.choices, label="Scoring model")

    def __init__(self, data: object = None, *, settings_row: object, criteria: list[ScorecardCriterion]):
        initial = {"scoring_model": settings_row.scoring_model}
        initial.update({f"weight_{c.key}": c.weight.normalize() for c in criteria})
        super().__init__(data, initial=initial)
        self.criteria = criteria
        for criterion in criteria:
            self.fields[f"weight_{criterion.key}"] = forms.DecimalField(
                label=f"{criterion.name} weight",
                min_value=0,
                max_value=1000,
                max_digits=8,
                decimal_places=3,
                help_text=criterion.get_source_display(),
            )

    def weights(self) -> dict:
        return {c.key: self.cleaned_data[f"weight_{c.key}"] for c in self.criteria}

    def weight_fields(self) -> list:
        return [self[f"weight_{c.key}"] for c in self.criteria]


class CriterionForm(forms.Form):
    name = forms.CharField(max_length=80)
    key = forms.SlugField(max_length=40, help_text="Short id, e.g. strategic_fit.")
    weight = forms.DecimalField(min_value=0, max_value=1000, max_digits=8, decimal_places=3, initial=1)
    source = forms.ChoiceField(choices=ScorecardCriterion.Source.choices, initial="manual")
