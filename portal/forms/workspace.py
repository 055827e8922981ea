"""Forms of the workspace settings pages (members, invitations, API tokens) and of the
invitation acceptance page. They check shape; the services check the rules."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from productops.models import ApiToken, Role


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CONTRIBUTOR)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “CI export”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ],
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        help_text="Optional. The token stops working at the end of this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Pick today or a later day.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


class SignUpForm(forms.Form):
    """A new account for an invited visitor; the e-mail is the invitation's."""

    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("password1")
            and cleaned.get("password2")
            and cleaned["password1"] != cleaned["password2"]
        ):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class WorkspaceSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    reporting_currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$",
        max_length=3,
        label="Reporting currency",
        help_text="ISO 4217, e.g. USD: ARR is added up in it (demand weights, top features).",
        error_messages={"invalid": "An ISO 4217 code such as USD."},
    )
    embed_origins = forms.CharField(
        required=False,
        max_length=20 * 300,
        label="Sites that may embed the public board and changelog",
        help_text="One origin per line, such as https://www.example.com (https, no path). "
        "Empty: no other site may show them in a frame.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocapitalize": "off"}),
    )

    def embed_origin_lines(self) -> list[str]:
        """The non-empty lines of ``embed_origins``; the service checks each one."""
        lines = self.cleaned_data.get("embed_origins", "").splitlines()
        return [line.strip() for line in lines if line.strip()]


class CurrencyRateForm(forms.Form):
    """One rate: one unit of ``code`` is worth ``rate`` of the reporting currency."""

    code = forms.RegexField(
        regex=r"^[A-Za-z]{3}$",
        max_length=3,
        required=False,
        label="Currency",
        error_messages={"invalid": "An ISO 4217 code such as EUR."},
    )
    rate = forms.DecimalField(
        required=False, min_value=Decimal("0.0000000001"), max_digits=20, decimal_places=10, label="Rate"
    )

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("code")) != bool(cleaned.get("rate")):
            raise forms.ValidationError("Give both the currency and its rate, or neither.")
        return cleaned


CurrencyRateFormSet = forms.formset_factory(CurrencyRateForm, extra=2, max_num=50, validate_max=True)
