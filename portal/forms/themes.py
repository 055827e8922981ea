"""Forms of the Themes page: a feature from a theme (the inbox's feature-from-feedback form
without the item ids) and a theme linked to an existing feature (the features picker)."""

from __future__ import annotations

from typing import Any

from django import forms

from feedback.models import Importance
from feedback.theme_models import DEFAULT_PERIOD, PERIOD_CHOICES
from portal.forms.feedback import OWN_IMPORTANCE, FeatureFromFeedbackForm
from portal.forms.pickers import PickerField, bind_pickers
from productops.models import Workspace


class ThemePeriodForm(forms.Form):
    period = forms.TypedChoiceField(
        label="Period", choices=PERIOD_CHOICES, coerce=int, required=False, empty_value=DEFAULT_PERIOD
    )

    def period_days(self) -> int:
        """The chosen period; the default one when none or an unknown one is asked for."""
        if not self.is_valid():
            return DEFAULT_PERIOD
        return self.cleaned_data.get("period") or DEFAULT_PERIOD


class ThemeFeatureForm(FeatureFromFeedbackForm):
    """``feedback.theme_services.theme_create_feature``: title (prefilled with the theme's
    label), product, one importance for every link (default: each item's)."""

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, workspace=workspace, **kwargs)
        del self.fields["ids"]
        self.fields["title"].help_text = "Left empty: the theme's label."


class ThemeLinkForm(forms.Form):
    """``feedback.theme_services.theme_link_feature``: the feature (picker) and the importance."""

    feature = PickerField(kind="features", label="Feature")
    importance = forms.ChoiceField(
        label="Importance of the links", choices=OWN_IMPORTANCE + Importance.choices, required=False
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bind_pickers(self, workspace)

    def link_importance(self) -> str | None:
        return self.cleaned_data["importance"] or None
