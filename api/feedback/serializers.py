"""Input and output serializers of the feedback API.

Input serializers only validate shape and types; rules live in ``feedback.services``.
Related ids are looked up inside the request's workspace only (the view passes it
in the context), so another workspace's id is a field error ``does_not_exist``,
as in the roadmap API.

Output serializers are read-only and read only what the selectors joined or
prefetched, so no list queries per row.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.roadmap.serializers import FeatureSummary, WorkspaceRelatedField
from feedback.models import (
    Company,
    Contact,
    DuplicateSuggestion,
    FeedbackItem,
    FeedbackLink,
    FeedbackSettings,
    Importance,
    Segment,
    Vote,
)
from feedback.services import MAX_BULK_ITEMS, MAX_TAGS, MAX_TEXT_LENGTH
from productops.api.base import StrictSerializer
from productops.api.fields import BlankAsNullChoiceField, BlankAsNullURLField, ModelOutput
from roadmap.models import Feature


def _related(model: type, **kwargs: Any) -> WorkspaceRelatedField:
    return WorkspaceRelatedField(model, required=False, allow_null=True, **kwargs)


# --- companies and contacts -----------------------------------------------------------


class CompanyOutput(ModelOutput):
    feedback_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Open feedback of the company (its own and its contacts')."
    )
    requested_feature_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Distinct features it asked for, by feedback or by vote."
    )

    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "domain",
            "segment",
            "plan",
            "arr",
            "arr_currency",
            "lifecycle_stage",
            "crm_external_id",
            "feedback_count",
            "requested_feature_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CompanyInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    domain = serializers.CharField(max_length=200, required=False, allow_blank=True)
    segment = BlankAsNullChoiceField(
        choices=Segment.choices, required=False, help_text='null when unknown ("" is a deprecated alias).'
    )
    plan = serializers.CharField(max_length=60, required=False, allow_blank=True)
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    arr_currency = serializers.RegexField(
        r"^[A-Z]{3}$",
        required=False,
        help_text="ISO 4217 code, e.g. USD.",
        error_messages={"invalid": "An ISO 4217 code such as USD."},
    )
    lifecycle_stage = serializers.ChoiceField(choices=Company.Lifecycle.choices, required=False)
    crm_external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ContactOutput(ModelOutput):
    class Meta:
        model = Contact
        fields = ["id", "email", "name", "company", "crm_external_id", "created_at", "updated_at"]
        read_only_fields = fields


class ContactInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    company = _related(Company)
    crm_external_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="The contact's id in your CRM."
    )


class FeedbackLinkListOutput(ModelOutput):
    """A link as the feedback-links list shows it: ids only, for sync."""

    class Meta:
        model = FeedbackLink
        fields = ["id", "item", "feature", "importance", "created_at", "updated_at"]
        read_only_fields = fields


# --- feedback items -------------------------------------------------------------------


class FeedbackLinkSummary(ModelOutput):
    class Meta:
        model = FeedbackLink
        fields = ["feature", "importance"]
        read_only_fields = fields


class FeedbackItemOutput(ModelOutput):
    # The text is returned exactly as stored: JSON, never HTML, so nothing is escaped here.
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    links = FeedbackLinkSummary(many=True, read_only=True, help_text="Features it is linked to.")

    class Meta:
        model = FeedbackItem
        fields = [
            "id",
            "text",
            "contact",
            "company",
            "source",
            "source_ref",
            "source_url",
            "kind",
            "importance",
            "deal_value",
            "tags",
            "state",
            "merged_into",
            "links",
            "received_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FeedbackItemSummary(ModelOutput):
    """An item on a suggestion card: its own columns only."""

    class Meta:
        model = FeedbackItem
        fields = ["id", "text", "state", "source", "company", "received_at"]
        read_only_fields = fields


class _FeedbackItemFields(StrictSerializer):
    text = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    contact = _related(Contact)
    company = _related(Company)
    kind = serializers.ChoiceField(choices=FeedbackItem.Kind.choices, required=False)
    importance = serializers.ChoiceField(choices=Importance.choices, required=False)
    deal_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=MAX_TAGS
    )
    source_url = BlankAsNullURLField(
        max_length=200, required=False, help_text='null for none ("" is a deprecated alias).'
    )


class FeedbackItemCreateInput(_FeedbackItemFields):
    """One piece of feedback. Name the person by ``contact`` (id) or by ``contact_email``
    (found or created; ``contact_name`` names a new one); the company by ``company`` (id) or
    ``company_domain``, else it is the contact's. The same ``source`` + ``source_ref``
    again returns the stored item (200) instead of creating one."""

    source = serializers.ChoiceField(choices=FeedbackItem.Source.choices, required=False)
    source_ref = serializers.CharField(max_length=200, required=False, allow_blank=True)
    received_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    company_domain = serializers.CharField(max_length=200, required=False, allow_blank=True)


class FeedbackItemUpdateInput(_FeedbackItemFields):
    """Text and classification; the state changes through ``.../state/``."""


class FeedbackStateInput(StrictSerializer):
    state = serializers.ChoiceField(choices=FeedbackItem.State.choices)


class FeedbackBulkStateInput(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=MAX_BULK_ITEMS
    )
    state = serializers.ChoiceField(choices=FeedbackItem.State.choices)


class FeedbackItemListOutput(serializers.Serializer):
    results = FeedbackItemOutput(many=True)


class FeedbackMergeInput(StrictSerializer):
    into = WorkspaceRelatedField(FeedbackItem, help_text="The item that survives.")


class _ObjectListField(serializers.ListField):
    """A JSON array of objects, checked only as an array: each object is validated by the
    service, which reports a bad one in its result instead of failing the call (and is
    far faster than a nested serializer per item)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.DictField(), **kwargs)

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not data and not self.allow_empty:
            self.fail("empty")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return data


# Each object is documented as a single create's body, so a generated client has the type.
@extend_schema_field(FeedbackItemCreateInput(many=True))
class _FeedbackItemsField(_ObjectListField):
    pass


class FeedbackBulkInput(StrictSerializer):
    items = _FeedbackItemsField(
        allow_empty=False,
        max_length=MAX_BULK_ITEMS,
        help_text=f"Up to {MAX_BULK_ITEMS} objects with the fields of a single create.",
    )


class BulkErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class BulkItemResultOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in ``items``.")
    # A plain string: as an enum it would collide with the feature status's name in the schema.
    status = serializers.CharField(help_text="One of created, duplicate, invalid.")
    id = serializers.IntegerField(
        allow_null=True, help_text="The stored item (the existing one if duplicate)."
    )
    errors = BulkErrorOutput(many=True)


class FeedbackBulkOutput(serializers.Serializer):
    results = BulkItemResultOutput(many=True)
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()


# --- links, duplicates, similar -------------------------------------------------------


class FeedbackLinkInput(StrictSerializer):
    feature = WorkspaceRelatedField(Feature)
    importance = serializers.ChoiceField(choices=Importance.choices, default=Importance.NICE_TO_HAVE)


class FeedbackLinkOutput(ModelOutput):
    feature = FeatureSummary(read_only=True)

    class Meta:
        model = FeedbackLink
        fields = ["feature", "importance", "created_at"]
        read_only_fields = fields


SIMILARITY_HELP = (
    "The one score suggestions are ranked by (0 to 1): the stronger of the two signals, the meaning "
    "put on the words' scale."
)
WORD_SIMILARITY_HELP = (
    "How much the words overlap (0 to 1: trigram similarity of the content words; for a feature, of "
    "its title within the text)."
)
MEANING_SIMILARITY_HELP = (
    "How close the meanings are (cosine of the two texts' embeddings from the offline model); null "
    "when the pair was found by words alone (suggestions by meaning off, or a text without an "
    "embedding)."
)
REASON_HELP = "Why it is suggested: the same words, the same meaning, or both."


class DuplicateSuggestionOutput(ModelOutput):
    """A suggestion as seen from one item (``context["item"]``): ``similar_item`` is the pair's
    other item, whichever side of the stored pair it is."""

    similar_item = serializers.SerializerMethodField()
    similar_feature = FeatureSummary(read_only=True, allow_null=True)

    class Meta:
        model = DuplicateSuggestion
        fields = [
            "id",
            "similarity",
            "word_similarity",
            "meaning_similarity",
            "reason",
            "similar_item",
            "similar_feature",
            "dismissed",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "similarity": {"help_text": SIMILARITY_HELP},
            "word_similarity": {"help_text": WORD_SIMILARITY_HELP},
            "meaning_similarity": {"help_text": MEANING_SIMILARITY_HELP},
            "reason": {"help_text": REASON_HELP},
        }

    @extend_schema_field(FeedbackItemSummary(allow_null=True))
    def get_similar_item(self, suggestion: DuplicateSuggestion) -> dict | None:
        item = self.context.get("item")
        other = suggestion.other_item(item.pk) if item is not None else suggestion.similar_item
        return FeedbackItemSummary(other).data if other is not None else None


class SimilarInput(StrictSerializer):
    text = serializers.CharField(max_length=MAX_TEXT_LENGTH)


class _SimilarMatchOutput(serializers.Serializer):
    """A live match, found by words (so far ``reason`` is ``words`` and ``meaning_similarity``
    null), with the fields of a stored suggestion."""

    similarity = serializers.FloatField(help_text=SIMILARITY_HELP)
    word_similarity = serializers.SerializerMethodField(help_text=WORD_SIMILARITY_HELP)
    meaning_similarity = serializers.SerializerMethodField(help_text=MEANING_SIMILARITY_HELP)
    reason = serializers.SerializerMethodField(help_text=REASON_HELP)

    @extend_schema_field(serializers.FloatField())
    def get_word_similarity(self, match: dict) -> float:
        return match.get("word_similarity", match["similarity"])

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_meaning_similarity(self, match: dict) -> float | None:
        return match.get("meaning_similarity")

    @extend_schema_field(serializers.ChoiceField(choices=DuplicateSuggestion.Reason.choices))
    def get_reason(self, match: dict) -> str:
        return match.get("reason", DuplicateSuggestion.Reason.WORDS)


class SimilarItemOutput(_SimilarMatchOutput):
    item = FeedbackItemSummary()


class SimilarFeatureOutput(_SimilarMatchOutput):
    feature = FeatureSummary()


class SimilarOutput(serializers.Serializer):
    items = SimilarItemOutput(many=True, help_text="Open feedback most like the text.")
    features = SimilarFeatureOutput(many=True, help_text="Open features whose title reads as part of it.")


# --- votes ----------------------------------------------------------------------------


class VoteOutput(ModelOutput):
    contact_email = serializers.EmailField(source="contact.email", read_only=True)

    class Meta:
        model = Vote
        fields = ["id", "contact", "contact_email", "feature", "created_at"]
        read_only_fields = fields


class VoteInput(StrictSerializer):
    contact = WorkspaceRelatedField(Contact)
    feature = WorkspaceRelatedField(Feature)


# --- aggregates -----------------------------------------------------------------------

VOLUME_MAX_WEEKS = 104
TOP_FEATURES_MAX = 100


class VolumeQuery(serializers.Serializer):
    by = serializers.ChoiceField(choices=["product", "tag"], default="product")
    weeks = serializers.IntegerField(min_value=1, max_value=VOLUME_MAX_WEEKS, default=12)


class VolumeSeriesOutput(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True,
        help_text="by=product: the product id; by=tag: the lower-cased tag. Null: feedback linked "
        "to no feature (by=product) or without tags (by=tag).",
    )
    label = serializers.CharField(help_text="The product's name or the tag as written.")
    counts = serializers.ListField(child=serializers.IntegerField(), help_text="One per week of ``weeks``.")
    total = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["key"] = None if instance.key is None else str(instance.key)
        return data


class VolumeOutput(serializers.Serializer):
    by = serializers.ChoiceField(choices=["product", "tag"])
    weeks = serializers.ListField(
        child=serializers.DateField(), help_text="Monday of each ISO week (UTC), oldest first."
    )
    series = VolumeSeriesOutput(many=True)


class TopFeaturesQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=TOP_FEATURES_MAX, default=20)


class TopFeatureOutput(serializers.Serializer):
    feature = FeatureSummary()
    arr = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="Sum of the requesting companies' ARR, in ``currency`` (each converted with its rate).",
    )
    currency = serializers.CharField(help_text="The workspace's reporting currency (ISO 4217).")
    requesting_companies = serializers.IntegerField()
    feedback_count = serializers.IntegerField(help_text="Feedback items linked to it.")
    votes_count = serializers.IntegerField()


# --- settings -------------------------------------------------------------------------


SEMANTIC_SUGGESTIONS_HELP = (
    "Suggest duplicates and features by meaning (an offline embedding model), not only by shared "
    "words. Off: by shared words only; suggestions already stored are kept."
)


class FeedbackSettingsOutput(ModelOutput):
    class Meta:
        model = FeedbackSettings
        fields = ["semantic_suggestions"]
        read_only_fields = fields
        extra_kwargs = {"semantic_suggestions": {"help_text": SEMANTIC_SUGGESTIONS_HELP}}


class FeedbackSettingsInput(StrictSerializer):
    semantic_suggestions = serializers.BooleanField(required=False, help_text=SEMANTIC_SUGGESTIONS_HELP)
