"""Operators' console for feedback.

Writes go through ``feedback.services`` (validated, audited, re-weighing the features
they touch). Computed columns (``match_text``, the duplicate check) are read-only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count

from feedback import services
from feedback.channels import webhooks
from feedback.models import (
    Company,
    Contact,
    DuplicateSuggestion,
    FeatureVector,
    FeedbackItem,
    FeedbackLink,
    FeedbackSettings,
    FeedbackVector,
    InboundWebhook,
    Vote,
)
from productops.admin import ReadOnlyModelAdmin, ServiceModelAdmin
from productops.errors import DomainError


@admin.register(Company)
class CompanyAdmin(ServiceModelAdmin):
    list_display = [
        "name",
        "domain",
        "workspace",
        "segment",
        "plan",
        "arr",
        "lifecycle_stage",
        "feedback_count",
    ]
    list_filter = ["segment", "lifecycle_stage", "do_not_contact"]
    search_fields = ["name", "domain", "crm_external_id"]
    autocomplete_fields = ["workspace", "account_owners"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(feedback_count=Count("feedback"))

    @admin.display(description="Feedback", ordering="feedback_count")
    def feedback_count(self, obj: Company) -> int:
        return obj.feedback_count

    def create(self, *, workspace, data):
        owners = data.pop("account_owners", None)
        company = services.company_create(workspace=workspace, actor=None, data=data)
        if owners is not None:
            services.company_account_owners_set(company=company, owners=owners, actor=None)
        return company

    def update(self, *, instance, data):
        owners = data.pop("account_owners", None)
        company = services.company_update(company=instance, actor=None, data=data)
        if owners is not None:
            services.company_account_owners_set(company=company, owners=owners, actor=None)
        return company

    def delete(self, *, instance):
        services.company_delete(company=instance, actor=None)


@admin.register(Contact)
class ContactAdmin(ServiceModelAdmin):
    list_display = ["email", "name", "company", "workspace", "created_at"]
    list_select_related = ["workspace", "company"]
    search_fields = ["email", "name", "company__name"]
    autocomplete_fields = ["workspace", "company"]
    readonly_fields = ["user"]

    def create(self, *, workspace, data):
        return services.contact_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.contact_update(contact=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.contact_delete(contact=instance, actor=None)


@admin.register(FeedbackItem)
class FeedbackItemAdmin(ServiceModelAdmin):
    list_display = [
        "short_text",
        "workspace",
        "company",
        "contact",
        "source",
        "kind",
        "importance",
        "state",
        "link_count",
        "received_at",
    ]
    list_filter = ["state", "source", "kind", "importance"]
    list_select_related = ["workspace", "company", "contact"]
    search_fields = ["text", "source_ref", "contact__email", "company__name"]
    autocomplete_fields = ["workspace", "contact", "company"]
    readonly_fields = ["merged_into", "match_text", "duplicates_checked_at", "created_at", "updated_at"]
    create_only_fields = ("workspace", "source", "source_ref", "received_at")
    date_hierarchy = "received_at"
    actions = ["merge_into_oldest"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(link_count=Count("links"))

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A new item starts as new; triage moves it through the state service.
        return fields if obj is not None else [*fields, "state"]

    @admin.display(description="Text")
    def short_text(self, obj: FeedbackItem) -> str:
        return obj.text[:80]

    @admin.display(description="Links", ordering="link_count")
    def link_count(self, obj: FeedbackItem) -> int:
        return obj.link_count

    def create(self, *, workspace, data):
        return services.feedback_item_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        state = data.pop("state", None)
        if data:
            instance = services.feedback_item_update(item=instance, actor=None, data=data)
        if state is not None:
            instance = services.feedback_item_change_state(item=instance, to_state=state, actor=None)
        return instance

    def delete(self, *, instance):
        services.feedback_item_delete(item=instance, actor=None)

    @admin.action(description="Merge selected items into the oldest of them", permissions=["change"])
    def merge_into_oldest(self, request, queryset):
        items = list(queryset.select_related("workspace").order_by("received_at", "id"))
        if len(items) < 2:
            messages.error(request, "Select at least two items to merge.")
            return
        if len({item.workspace_id for item in items}) > 1:
            messages.error(request, "Only items of the same workspace can be merged.")
            return
        target, merged = items[0], 0
        for source in items[1:]:
            try:
                services.feedback_items_merge(source=source, target=target, actor=None)
            except DomainError as exc:
                messages.error(request, f"#{source.pk}: {exc.detail}")
            else:
                merged += 1
        if merged:
            messages.success(request, f"Merged {merged} item(s) into #{target.pk}.")


@admin.register(FeedbackLink)
class FeedbackLinkAdmin(ServiceModelAdmin):
    list_display = ["item", "feature", "importance", "created_by", "created_at", "workspace"]
    list_filter = ["importance"]
    list_select_related = ["workspace", "item", "feature", "created_by"]
    search_fields = ["item__text", "feature__title"]
    autocomplete_fields = ["workspace", "item", "feature"]
    readonly_fields = ["created_by"]
    create_only_fields = ("workspace", "item", "feature")

    def create(self, *, workspace, data):
        return services.feedback_link_create(
            item=data["item"], feature=data["feature"], importance=data["importance"], actor=None
        )

    def update(self, *, instance, data):
        # Linking again is how the service changes a link's importance.
        return services.feedback_link_create(
            item=instance.item,
            feature=instance.feature,
            importance=data.get("importance", instance.importance),
            actor=None,
        )

    def delete(self, *, instance):
        services.feedback_link_delete(link=instance, actor=None)


@admin.register(Vote)
class VoteAdmin(ServiceModelAdmin):
    list_display = ["contact", "feature", "workspace", "created_at"]
    list_select_related = ["workspace", "contact", "feature"]
    search_fields = ["contact__email", "feature__title"]
    autocomplete_fields = ["workspace", "contact", "feature"]

    def create(self, *, workspace, data):
        return services.vote_cast(contact=data["contact"], feature=data["feature"], actor=None)[0]

    def delete(self, *, instance):
        services.vote_remove(contact=instance.contact, feature=instance.feature, actor=None)


@admin.register(DuplicateSuggestion)
class DuplicateSuggestionAdmin(ReadOnlyModelAdmin):
    """Found by the duplicate detector; operators can only dismiss them."""

    list_display = [
        "item",
        "similar_item",
        "similar_feature",
        "similarity",
        "reason",
        "dismissed",
        "workspace",
    ]
    list_filter = ["dismissed", "reason"]
    list_select_related = ["workspace", "item", "similar_item", "similar_feature"]
    search_fields = ["item__text"]
    actions = ["dismiss"]

    def has_change_permission(self, request, obj=None):
        # Needed for the action only; every field stays read-only.
        return obj is None and request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in DuplicateSuggestion._meta.fields]

    @admin.action(description="Dismiss selected suggestions", permissions=["change"])
    def dismiss(self, request, queryset):
        for suggestion in queryset.select_related("workspace"):
            try:
                services.duplicate_dismiss(suggestion=suggestion, actor=None)
            except DomainError as exc:
                messages.error(request, f"Suggestion {suggestion.pk}: {exc.detail}")


@admin.register(FeedbackSettings)
class FeedbackSettingsAdmin(ReadOnlyModelAdmin):
    """Per-workspace switches; turned on and off by the actions (the service audits it)."""

    list_display = ["workspace", "semantic_suggestions", "updated_at"]
    list_select_related = ["workspace"]
    actions = ["semantic_on", "semantic_off"]

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_superuser

    def _switch(self, request, queryset, value: bool) -> None:
        for row in queryset.select_related("workspace"):
            services.feedback_settings_update(workspace=row.workspace, actor=None, semantic_suggestions=value)

    @admin.action(description="Suggest by meaning too", permissions=["change"])
    def semantic_on(self, request, queryset):
        self._switch(request, queryset, True)

    @admin.action(description="Suggest by shared words only", permissions=["change"])
    def semantic_off(self, request, queryset):
        self._switch(request, queryset, False)


class VectorAdmin(ReadOnlyModelAdmin):
    """Embeddings the worker stores; the vectors themselves are never shown."""

    list_filter = ["model", "skip_reason"]
    exclude = ["int8", "bits"]


@admin.register(FeedbackVector)
class FeedbackVectorAdmin(VectorAdmin):
    list_display = ["item", "model", "skip_reason", "embedded_at", "workspace"]
    list_select_related = ["workspace", "item"]


@admin.register(FeatureVector)
class FeatureVectorAdmin(VectorAdmin):
    list_display = ["feature", "model", "skip_reason", "embedded_at", "workspace"]
    list_select_related = ["workspace", "feature"]


@admin.register(InboundWebhook)
class InboundWebhookAdmin(ServiceModelAdmin):
    """The secret is never shown here but once, right after creating or rotating it."""

    list_display = ["__str__", "provider", "workspace", "is_active", "last_delivery_at", "created_at"]
    list_filter = ["provider", "is_active"]
    list_select_related = ["workspace"]
    search_fields = ["name", "public_id"]
    autocomplete_fields = ["workspace"]
    fields = ["workspace", "provider", "name", "public_id", "is_active", "last_delivery_at", "created_at"]
    readonly_fields = ["public_id", "is_active", "last_delivery_at", "created_at"]
    create_only_fields = ("workspace", "provider", "name")
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        # Created here rather than in ``create`` so the one-time secret goes to this request's
        # operator only (the admin instance is shared by every request).
        if change:
            return
        try:
            webhook, secret = webhooks.inbound_webhook_create(
                workspace=form.cleaned_data["workspace"],
                actor=None,
                provider=form.cleaned_data["provider"],
                name=form.cleaned_data.get("name", ""),
            )
        except DomainError as exc:
            self._fail(request, exc)
            return
        messages.warning(request, f"Signing secret (shown once): {secret}")
        obj.pk = webhook.pk

    def has_add_permission(self, request):
        return admin.ModelAdmin.has_add_permission(self, request)

    def delete(self, *, instance):
        webhooks.inbound_webhook_delete(webhook=instance, actor=None)

    def has_rotate_permission(self, request):
        # Rows are never edited in a form here, but rotating is a change: Django's change permission.
        return admin.ModelAdmin.has_change_permission(self, request)

    @admin.action(description="Rotate the signing secret", permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        for webhook in queryset.select_related("workspace"):
            _, secret = webhooks.inbound_webhook_rotate_secret(webhook=webhook, actor=None)
            messages.warning(request, f"{webhook}: new signing secret (shown once): {secret}")


# --- themes (computed by the worker: read-only) -----------------------------------------

from feedback.theme_models import Theme, ThemeDismissal, ThemeMember, ThemeRun  # noqa: E402


@admin.register(Theme)
class ThemeAdmin(ReadOnlyModelAdmin):
    list_display = ["label", "workspace", "period_days", "size", "company_count", "arr", "computed_at"]
    list_filter = ["period_days"]
    list_select_related = ["workspace"]
    search_fields = ["label"]
    exclude = ["centroid"]


@admin.register(ThemeMember)
class ThemeMemberAdmin(ReadOnlyModelAdmin):
    list_display = ["theme", "item", "rank", "similarity", "workspace"]
    list_select_related = ["workspace", "theme", "item"]
    raw_id_fields = ["theme", "item"]


@admin.register(ThemeDismissal)
class ThemeDismissalAdmin(ReadOnlyModelAdmin):
    list_display = ["theme", "item", "dismissed_by", "dismissed_at", "workspace"]
    list_select_related = ["workspace", "theme", "item", "dismissed_by"]
    raw_id_fields = ["theme", "item"]


@admin.register(ThemeRun)
class ThemeRunAdmin(ReadOnlyModelAdmin):
    list_display = [
        "workspace",
        "period_days",
        "number",
        "computed_at",
        "item_count",
        "sampled",
        "theme_count",
    ]
    list_select_related = ["workspace"]
    exclude = ["centroids"]
