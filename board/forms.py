"""Forms of the public board and of its settings page. Each public form has a honeypot
field (``website``), hidden from people by the ``.honeypot`` class: bots fill it in."""

from __future__ import annotations

import uuid

from django import forms

from board.models import COMMENT_MAX_LENGTH, BoardSettings
from board.services import IDEA_MAX_LENGTH


class HoneypotForm(forms.Form):
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_spam(self) -> bool:
        return bool(self.data.get("website"))


class SignInForm(HoneypotForm):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We e-mail you a link that signs you in; no password needed.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class IdeaForm(HoneypotForm):
    text = forms.CharField(
        label="Your idea",
        max_length=IDEA_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What would you like to do, and why? Your name and e-mail are not shown publicly.",
    )
    submission_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class CommentForm(HoneypotForm):
    body = forms.CharField(
        label="Add a comment",
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Shown publicly with your first name.",
    )


class BoardSettingsForm(forms.ModelForm):
    class Meta:
        model = BoardSettings
        fields = ["enabled", "anonymous_viewing", "title", "intro"]
        labels = {
            "enabled": "Publish the public board and roadmap",
            "anonymous_viewing": "Visitors may browse without signing in",
            "title": "Board title",
            "intro": "Introduction",
        }
        help_texts = {
            "title": "Shown at the top of the public pages; the workspace name when empty.",
            "intro": "A short welcome above the list of ideas (plain text).",
        }
        widgets = {"intro": forms.Textarea(attrs={"rows": 3})}


class ChangelogSubscribeForm(HoneypotForm):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We e-mail you a link to confirm; nothing else until you click it.",
    )


#: A subscription's cadence on the preference page; "off" turns it off.
CADENCE_CHOICES = [
    ("immediate", "Immediately"),
    ("daily", "Daily digest"),
    ("weekly", "Weekly digest"),
    ("off", "Off"),
]


class PreferencesForm(forms.Form):
    """A stakeholder's own preferences: one cadence per subscription (``cadence_<id>``) and
    "unsubscribe from everything"."""

    unsubscribed = forms.BooleanField(
        required=False,
        label="Unsubscribe from everything",
        help_text="No e-mail at all, whatever the cadences above say.",
    )

    def __init__(self, *args: object, subscriptions: list, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions = subscriptions
        for subscription in subscriptions:
            self.fields[f"cadence_{subscription.pk}"] = forms.ChoiceField(
                label=subscription.label,
                choices=CADENCE_CHOICES,
                initial=subscription.cadence if subscription.is_active else "off",
            )
        # The checkbox comes after the subscriptions.
        self.order_fields([*(f"cadence_{s.pk}" for s in subscriptions), "unsubscribed"])

    def cadence_fields(self) -> list:
        return [self[f"cadence_{s.pk}"] for s in self.subscriptions]

    def data_for_service(self) -> dict:
        """What ``comms.services.preferences_update`` takes."""
        return {
            "cadences": {s.pk: self.cleaned_data[f"cadence_{s.pk}"] for s in self.subscriptions},
            "unsubscribed": self.cleaned_data["unsubscribed"],
        }
