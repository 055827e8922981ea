"""Forms of the planning pages: products, goals and key results, initiatives, teams and their
capacity periods, scorecard criteria.

They check the shape of the input (lengths, numbers, choices scoped to the workspace); the
roadmap services decide the rest (unique names, nesting cycles, periods and overlaps, a
version scheme in use) and their errors are shown on the field they name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from portal.forms.pickers import PickerField, bind_pickers
from productops.models import Workspace
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import (
    Goal,
    Initiative,
    KeyResult,
    Product,
    ScorecardCriterion,
    TeamCapacity,
    VersionScheme,
)

PERSONA_MAX_LENGTH = 120
PERSONAS_MAX = 50


def _decimal(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(max_digits=16, decimal_places=4, **kwargs)


class ProductForm(forms.Form):
    name = forms.CharField(max_length=120)
    vision = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the product is for, in a sentence or two.",
    )
    personas = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Who it is for: one short name a line (e.g. “Admin”, “Analyst”).",
    )
    version_scheme = forms.ChoiceField(
        choices=VersionScheme.choices,
        initial=VersionScheme.SEMVER,
        label="Version scheme",
        help_text="How its releases are numbered; fixed once it has releases.",
    )

    def __init__(self, data: object = None, *, product: Product | None = None, **kwargs: Any) -> None:
        if product is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": product.name,
                    "vision": product.vision,
                    "personas": "\n".join(product.personas or []),
                    "version_scheme": product.version_scheme,
                },
            )
        super().__init__(data, **kwargs)

    def clean_personas(self) -> list[str]:
        names = list(dict.fromkeys(line.strip() for line in self.cleaned_data["personas"].splitlines()))
        names = [name for name in names if name]
        if len(names) > PERSONAS_MAX:
            raise forms.ValidationError(f"At most {PERSONAS_MAX} personas.", code="too_many")
        for name in names:
            if len(name) > PERSONA_MAX_LENGTH:
                raise forms.ValidationError(
                    f"“{name[:30]}…” is longer than {PERSONA_MAX_LENGTH} characters.", code="max_length"
                )
        return names


class GoalForm(forms.Form):
    title = forms.CharField(max_length=200)
    period = forms.CharField(max_length=40, help_text="e.g. 2027 H1, 2027-Q3.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="Company-wide (no product)")
    parent = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Top level",
        label="Nested under",
        help_text="A product goal under a company goal, for example.",
    )
    owner = PickerField(kind="members", required=False)

    FIELDS = ("title", "period", "description", "product", "parent", "owner")

    def __init__(
        self, data: object = None, *, workspace: Workspace, goal: Goal | None = None, **kwargs: Any
    ) -> None:
        if goal is not None:
            kwargs.setdefault("initial", {name: getattr(goal, name) for name in self.FIELDS})
        super().__init__(data, **kwargs)
        self.fields["product"].queryset = roadmap_selectors.product_list(workspace=workspace).only("name")
        parents = (
            roadmap_selectors.goal_list(workspace=workspace)
            .select_related(None)
            .prefetch_related(None)
            .only("title", "period")
        )
        if goal is not None:
            parents = parents.exclude(pk=goal.pk)  # nesting under a descendant: the service says so
        self.fields["parent"].queryset = parents
        bind_pickers(self, workspace)

    def goal_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class KeyResultForm(forms.Form):
    metric = forms.CharField(max_length=200, help_text="What is measured, e.g. “Weekly active teams”.")
    unit = forms.CharField(max_length=20, required=False, help_text="e.g. %, teams, ms.")
    baseline = _decimal(help_text="Where it started.")
    target = _decimal(help_text="Where it should be; not the baseline.")
    current = _decimal(help_text="Where it is now.")

    FIELDS = ("metric", "unit", "baseline", "target", "current")

    def __init__(self, data: object = None, *, key_result: KeyResult | None = None, **kwargs: Any) -> None:
        if key_result is not None:
            kwargs.setdefault(
                "initial",
                {
                    name: (value.normalize() if isinstance(value, Decimal) else value)
                    for name in self.FIELDS
                    for value in [getattr(key_result, name)]
                },
            )
        super().__init__(data, **kwargs)

    def key_result_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class KeyResultCurrentForm(forms.Form):
    """The one-click update of a key result's current value."""

    current = _decimal(label="Current value")


class InitiativeForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    goal = forms.ModelChoiceField(queryset=None, required=False, empty_label="No goal")
    owner = PickerField(kind="members", required=False)
    investment_target_pct = forms.DecimalField(
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        initial=0,
        label="Investment target %",
        help_text="Target share of the teams' capacity, 0-100.",
    )

    FIELDS = ("title", "description", "goal", "owner", "investment_target_pct")

    def __init__(
        self,
        data: object = None,
        *,
        workspace: Workspace,
        initiative: Initiative | None = None,
        **kwargs: Any,
    ) -> None:
        if initiative is not None:
            initial = {name: getattr(initiative, name) for name in self.FIELDS}
            initial["investment_target_pct"] = initiative.investment_target_pct.normalize()
            kwargs.setdefault("initial", initial)
        super().__init__(data, **kwargs)
        self.fields["goal"].queryset = (
            roadmap_selectors.goal_list(workspace=workspace)
            .select_related(None)
            .prefetch_related(None)
            .only("title", "period")
        )
        bind_pickers(self, workspace)

    def initiative_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)


class CapacityForm(forms.Form):
    """A period of a team: ``YYYY-Qn``, ``YYYY-Hn`` or ``YYYY-MM`` (the dates follow from the
    label and may be left empty), or a name of one's own with its dates."""

    period = forms.CharField(
        max_length=roadmap_services.PERIOD_MAX_LENGTH,
        help_text="2027-Q1, 2027-H2, 2027-03, or a name of your own such as “Sprint 42”.",
    )
    starts_on = forms.DateField(
        required=False,
        label="Starts on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Leave empty for a quarter, half or month.",
    )
    ends_on = forms.DateField(
        required=False,
        label="Ends on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="On or after the start.",
    )
    capacity = forms.DecimalField(
        min_value=0, max_digits=10, decimal_places=2, help_text="In the workspace's effort unit."
    )

    def __init__(self, data: object = None, *, capacity: TeamCapacity | None = None, **kwargs: Any) -> None:
        if capacity is not None:
            # A period its label dates shows no dates: relabelling it then moves them too.
            derived = roadmap_services.period_dates(capacity.period) is not None
            kwargs.setdefault(
                "initial",
                {
                    "period": capacity.period,
                    "starts_on": None if derived else capacity.starts_on,
                    "ends_on": None if derived else capacity.ends_on,
                    "capacity": capacity.capacity.normalize(),
                },
            )
        super().__init__(data, **kwargs)

    def capacity_data(self) -> dict:
        """The period, the capacity, and the dates that were given (empty ones are left out:
        the label gives them, or the period keeps its own)."""
        data = {"period": self.cleaned_data["period"], "capacity": self.cleaned_data["capacity"]}
        for name in ("starts_on", "ends_on"):
            if self.cleaned_data.get(name) is not None:
                data[name] = self.cleaned_data[name]
        return data


class CriterionEditForm(forms.Form):
    """A scorecard criterion's name, weight, source and position (its key is fixed)."""

    name = forms.CharField(max_length=80)
    weight = forms.DecimalField(min_value=0, max_value=1000, max_digits=8, decimal_places=3)
    source = forms.ChoiceField(choices=ScorecardCriterion.Source.choices)
    position = forms.IntegerField(
        min_value=0, max_value=2_147_483_647, help_text="Lower comes first on the scorecard."
    )

    def __init__(
        self, data: object = None, *, criterion: ScorecardCriterion | None = None, **kwargs: Any
    ) -> None:
        if criterion is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": criterion.name,
                    "weight": criterion.weight.normalize(),
                    "source": criterion.source,
                    "position": criterion.position,
                },
            )
        super().__init__(data, **kwargs)
