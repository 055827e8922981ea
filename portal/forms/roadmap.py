"""Forms of the roadmap pages: filters, moves, status changes, scoring (the feature forms are in
``portal.forms.features``)."""

from __future__ import annotations

from datetime import date

from django import forms

from productops.models import Workspace
from productops.validation import PLANNING_LATEST, clamp_planning_date
from roadmap import selectors as roadmap_selectors
from roadmap.models import FeatureStatus, Horizon, ScorecardCriterion, ScoringModel

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


class MoveDatesForm(MoveForm):
    """A horizon move with what to do about planned dates outside the horizon's window:
    empty the first time (the page asks when they disagree), then keep, clear or shift."""

    dates = forms.ChoiceField(
        choices=[("", "Ask"), ("keep", "Keep dates"), ("clear", "Clear dates"), ("shift", "Shift dates")],
        required=False,
        label="Planned dates",
    )


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
    scale = forms.ChoiceField(
        choices=[("", "Linear"), ("log", "Logarithmic")],
        required=False,
        label="Score scale",
        help_text="Logarithmic spreads skewed scores.",
    )

    field_order = ["model", "scale"]

    def scoring_model(self, default: str) -> str:
        self.is_valid()
        return self.cleaned_data.get("model") or default

    def log_scale(self) -> bool:
        self.is_valid()
        return self.cleaned_data.get("scale") == "log"


class ClosedFilterForm(RoadmapFilterForm):
    """The shipped / declined list: the board's filters and which of the two."""

    status = forms.ChoiceField(
        choices=[(FeatureStatus.SHIPPED, "Shipped"), (FeatureStatus.DECLINED, "Declined")],
        required=False,
        label="Status",
    )

    field_order = ["status"]

    def closed_status(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("status") or FeatureStatus.SHIPPED


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
