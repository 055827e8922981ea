"""Forms of the comms pages: stakeholders and their subscriptions, the delivery log's filters
and bulk retry, webhook endpoints and thresholds, the comms settings.

They check shape; ``comms.services``, ``comms.webhooks`` and the outbox check the rules
(a Slack URL on hooks.slack.com over https, an address that is not private, a member of
this workspace...). Choices of members, products, goals, initiatives and releases are
lists the view loaded once (:class:`~portal.forms.releases.ObjectChoiceField`), so a page
with a form per row runs no query per row; a feature is picked by a searchable picker
(``portal.forms.pickers``), never listed whole.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django import forms

from comms.models import Audience, Cadence, Channel, StakeholderKind, WebhookFormat
from portal.forms.feedback import IdListField
from portal.forms.pickers import PickerField, bind_pickers
from portal.forms.releases import ObjectChoiceField, member_label, release_label
from productops.models import Event
from productops.outbox.models import Channel as DeliveryChannel
from productops.outbox.models import DeliveryState

ANY = [("", "Any")]

#: What a subscription can follow, in the order the picker offers them.
FOLLOW_CHOICES = [
    ("target_workspace", "The whole workspace"),
    ("product", "A product"),
    ("goal", "A goal"),
    ("initiative", "An initiative"),
    ("feature", "A feature"),
    ("release", "A release"),
]
WEEKDAY_CHOICES = [
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
]
#: The kinds of deliveries the outbox writes (docs/architecture.md, "The outbox").
DELIVERY_KINDS = [
    ("comms.digest", "Digest"),
    ("comms.digest_test", "Digest (test)"),
    ("comms.loop", "Close the loop"),
    ("comms.loop_summary", "Loop summary (owners)"),
    ("comms.release_announcement", "Release announcement"),
    ("comms.update", "Update (immediate)"),
    ("comms.changelog_confirm", "Changelog opt-in"),
    ("webhook.event", "Webhook event"),
    ("board.status", "Board status notice"),
    ("board.sign_in", "Board sign-in link"),
    ("workspace.invitation", "Invitation"),
    ("auth.password_reset", "Password reset"),
]
#: Events an endpoint may receive (the test event is always sent on request).
WEBHOOK_EVENT_CHOICES = [(k.value, k.label) for k in Event.Kind if k != Event.Kind.WEBHOOK_TEST]


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in zones]


def target_label(subscription: Any) -> str:
    """ "Product: Core", "Feature: Bulk export", "Workspace: Acme" (targets are select_related)."""
    for name, label in (
        ("target_workspace", "Workspace"),
        ("product", "Product"),
        ("goal", "Goal"),
        ("initiative", "Initiative"),
        ("feature", "Feature"),
        ("release", "Release"),
    ):
        obj = getattr(subscription, name, None)
        if obj is not None:
            text = release_label(obj) if name == "release" else getattr(obj, "title", None) or str(obj)
            return f"{label}: {text}"
    return "Nothing"


# --- stakeholders ------------------------------------------------------------------------


class StakeholderFilterForm(forms.Form):
    audience = forms.ChoiceField(
        label="Audience", choices=[("", "All audiences"), *Audience.choices], required=False
    )

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {"audience": (self.cleaned_data or {}).get("audience") or None}


class StakeholderForm(forms.Form):
    """A new stakeholder: a member (picked), a customer contact (by their e-mail address) or
    an external address; with an audience."""

    kind = forms.ChoiceField(
        label="Who", choices=StakeholderKind.choices, initial=StakeholderKind.MEMBER, widget=forms.RadioSelect
    )
    user = ObjectChoiceField(label="Member", required=False, empty_label="Choose a member…")
    email = forms.EmailField(
        label="E-mail",
        required=False,
        max_length=254,
        help_text="An external address, or the address of a customer contact of this workspace.",
    )
    name = forms.CharField(label="Name", required=False, max_length=200, help_text="Defaults to theirs.")
    audience = forms.ChoiceField(label="Audience", choices=Audience.choices, initial=Audience.EXECUTIVE)

    def __init__(self, data: object = None, *, members: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["user"].set_objects(members, label_of=member_label, empty_label="Choose a member…")

    def clean(self) -> dict:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == StakeholderKind.MEMBER and not cleaned.get("user") and "user" not in self.errors:
            self.add_error("user", "Choose a member.")
        external = kind in (StakeholderKind.CONTACT, StakeholderKind.EXTERNAL)
        if external and not cleaned.get("email") and "email" not in self.errors:
            self.add_error("email", "Enter an e-mail address.")
        return cleaned


class StakeholderEditForm(forms.Form):
    name = forms.CharField(label="Name", required=False, max_length=200)
    audience = forms.ChoiceField(label="Audience", choices=Audience.choices)
    email = forms.EmailField(label="E-mail", max_length=254)
    resubscribe = forms.BooleanField(
        label="Resubscribe (they unsubscribed; only with their consent)", required=False
    )

    def __init__(self, data: object = None, *, stakeholder: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        if stakeholder.kind != StakeholderKind.EXTERNAL:
            del self.fields["email"]  # a member's or contact's address is edited where it lives
        if stakeholder.unsubscribed_at is None:
            del self.fields["resubscribe"]

    def stakeholder_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name] for name in ("name", "audience", "email") if name in self.fields
        }
        if self.cleaned_data.get("resubscribe"):
            data["unsubscribed"] = False
        return data


# --- subscriptions -------------------------------------------------------------------------


class ScheduleForm(forms.Form):
    """Channel, cadence and the digest's local time: the part of a subscription that can change."""

    channel = forms.ChoiceField(label="Channel", choices=Channel.choices, initial=Channel.EMAIL)
    slack_url = forms.CharField(
        label="Slack webhook URL",
        required=False,
        max_length=500,
        help_text="For Slack: an incoming webhook, https://hooks.slack.com/…",
        widget=forms.URLInput,
    )
    cadence = forms.ChoiceField(label="Cadence", choices=Cadence.choices, initial=Cadence.WEEKLY)
    time_zone = forms.ChoiceField(
        label="Time zone",
        initial="UTC",
        error_messages={
            "invalid_choice": "%(value)s is not a known time zone (IANA name, e.g. Europe/Paris)."
        },
    )
    local_hour = forms.IntegerField(
        label="Hour (0–23)",
        min_value=0,
        max_value=23,
        initial=9,
        help_text="Local time the digest goes out.",
        error_messages={
            "min_value": "Ensure this value is between 0 and 23.",
            "max_value": "Ensure this value is between 0 and 23.",
        },
    )
    weekday = forms.TypedChoiceField(label="Weekday (weekly)", choices=WEEKDAY_CHOICES, coerce=int, initial=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()

    def clean(self) -> dict:
        cleaned = super().clean()
        no_url = not (cleaned.get("slack_url") or "").strip()
        if cleaned.get("channel") == Channel.SLACK and no_url and "slack_url" not in self.errors:
            self.add_error("slack_url", "A Slack subscription needs a Slack URL.")
        return cleaned

    def schedule_data(self) -> dict[str, Any]:
        names = ("channel", "slack_url", "cadence", "time_zone", "local_hour", "weekday")
        data = {name: self.cleaned_data.get(name) for name in names}
        data["slack_url"] = (data["slack_url"] or "").strip()
        return data


class SubscriptionForm(ScheduleForm):
    """A new subscription: what to follow (one picker per kind; the one named by ``follow``
    counts), then the schedule."""

    follow = forms.ChoiceField(label="Follow", choices=FOLLOW_CHOICES, initial="target_workspace")
    product = ObjectChoiceField(label="Product", required=False)
    goal = ObjectChoiceField(label="Goal", required=False)
    initiative = ObjectChoiceField(label="Initiative", required=False)
    feature = PickerField(kind="features", label="Feature", required=False)
    release = ObjectChoiceField(label="Release", required=False)

    field_order = ["follow", "product", "goal", "initiative", "feature", "release"]

    def __init__(
        self,
        data: object = None,
        *,
        products: Iterable[Any] = (),
        goals: Iterable[Any] = (),
        initiatives: Iterable[Any] = (),
        releases: Iterable[Any] = (),
        workspace: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        bind_pickers(self, workspace)
        self.fields["product"].set_objects(products)
        self.fields["goal"].set_objects(goals, label_of=lambda g: g.title)
        self.fields["initiative"].set_objects(initiatives, label_of=lambda i: i.title)
        self.fields["release"].set_objects(releases, label_of=release_label)

    def clean(self) -> dict:
        cleaned = super().clean()
        follow = cleaned.get("follow")
        picked = follow == "target_workspace" or cleaned.get(follow) is not None
        if follow and not picked and follow not in self.errors:
            self.add_error(follow, f"Choose the {dict(FOLLOW_CHOICES)[follow].split(' ', 1)[1]} to follow.")
        return cleaned

    def subscription_data(self, workspace: Any) -> dict[str, Any]:
        follow = self.cleaned_data["follow"]
        target = workspace if follow == "target_workspace" else self.cleaned_data[follow]
        return {follow: target, **self.schedule_data()}


class SubscriptionEditForm(ScheduleForm):
    is_active = forms.BooleanField(label="Active", required=False)

    def subscription_data(self) -> dict[str, Any]:
        return {**self.schedule_data(), "is_active": self.cleaned_data["is_active"]}


# --- the delivery log ------------------------------------------------------------------------


class DeliveryFilterForm(forms.Form):
    """The delivery log's GET filters; an invalid one is shown and ignored."""

    state = forms.ChoiceField(label="State", choices=ANY + DeliveryState.choices, required=False)
    channel = forms.ChoiceField(label="Channel", choices=ANY + DeliveryChannel.choices, required=False)
    kind = forms.ChoiceField(label="Kind", choices=ANY + DELIVERY_KINDS, required=False)
    recipient = forms.CharField(
        label="Recipient",
        required=False,
        max_length=500,
        help_text="The exact address or URL.",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    event = forms.IntegerField(label="Event id", required=False, min_value=1, max_value=2**63 - 1)
    ref = forms.CharField(
        label="For",
        required=False,
        max_length=100,
        help_text="e.g. contact:12, stakeholder:3, endpoint:5",
    )

    def filters(self) -> dict[str, Any]:
        """Keyword arguments of ``deliveries_for_workspace`` from the valid fields."""
        valid: dict[str, Any] = {}
        if self.is_bound:
            self.is_valid()
            valid = {name: self.cleaned_data.get(name) for name in self.fields if name not in self.errors}
        return {
            "state": valid.get("state") or None,
            "channel": valid.get("channel") or None,
            "kind": valid.get("kind") or None,
            "recipient": (valid.get("recipient") or "").strip() or None,
            "event_id": valid.get("event"),
            "recipient_ref": (valid.get("ref") or "").strip() or None,
        }


class RetryForm(forms.Form):
    ids = IdListField(required=False)

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if not ids:
            raise forms.ValidationError("Select the failed deliveries to retry.", code="required")
        return ids


# --- webhooks -------------------------------------------------------------------------------


class WebhookEndpointForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    url = forms.CharField(
        label="URL",
        max_length=500,
        widget=forms.URLInput,
        help_text="https only; private and local addresses are refused.",
    )
    format = forms.ChoiceField(label="Format", choices=WebhookFormat.choices, initial=WebhookFormat.STANDARD)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=WEBHOOK_EVENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None checked: the endpoint receives only test events.",
    )
    rank_top_n = forms.IntegerField(
        label="Rank changes: top N",
        min_value=1,
        max_value=100,
        initial=10,
        help_text="A rank change is a feature entering or leaving the top N.",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def endpoint_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["url"] = data["url"].strip()
        return data


class ThresholdForm(forms.Form):
    rule = forms.CharField(
        label="Rule",
        max_length=60,
        help_text="“companies >= 5” or “arr >= 250000”: the event fires when a feature reaches it.",
    )


# --- settings -------------------------------------------------------------------------------


class CommsSettingsForm(forms.Form):
    notify_imported_contacts = forms.BooleanField(
        label="Notify imported contacts",
        required=False,
        help_text="Also e-mail contacts known only from imports (CSV, support tickets, webhooks). "
        "Off: they are recorded as suppressed (no consent) and listed to their account owner.",
    )
    digest_rank_moves = forms.IntegerField(
        label="Rank moves per digest",
        min_value=1,
        max_value=50,
        help_text="How many priority moves a digest explains (1–50).",
    )
