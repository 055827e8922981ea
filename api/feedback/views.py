"""Feedback API: companies, contacts, feedback items and their actions (triage, merge,
links, duplicates, live similarity, bulk ingestion), votes, and two reports.

Views validate input, call a service or selector and render; nothing else. Domain
errors raised by the services are rendered by the one exception handler.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api import examples
from api.feedback.filters import (
    CompanyFilter,
    ContactFilter,
    FeedbackItemFilter,
    FeedbackLinkFilter,
    VoteFilter,
)
from api.feedback.serializers import (
    CompanyInput,
    CompanyOutput,
    ContactInput,
    ContactOutput,
    DuplicateSuggestionOutput,
    FeedbackBulkInput,
    FeedbackBulkOutput,
    FeedbackBulkStateInput,
    FeedbackItemCreateInput,
    FeedbackItemListOutput,
    FeedbackItemOutput,
    FeedbackItemUpdateInput,
    FeedbackLinkInput,
    FeedbackLinkListOutput,
    FeedbackLinkOutput,
    FeedbackMergeInput,
    FeedbackSettingsInput,
    FeedbackSettingsOutput,
    FeedbackStateInput,
    SimilarInput,
    SimilarOutput,
    TopFeatureOutput,
    TopFeaturesQuery,
    VolumeOutput,
    VolumeQuery,
    VoteInput,
    VoteOutput,
)
from feedback import selectors, services
from productops.api.base import TombstonesMixin, WorkspaceResourceViewSet, WorkspaceScopedAPIView
from productops.api.filters import StableOrderingFilter
from productops.api.redirects import MERGED_REDIRECT_RESPONSE, merged_redirect
from productops.api.schema import ErrorOutput
from productops.idempotency import HEADER as IDEMPOTENCY_HEADER
from productops.idempotency import IdempotencyKeyReused, run_idempotent
from productops.models import Role, Workspace

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 characters. The same key again (within 24 hours) returns the "
    "first response without writing anything; the same key with a different body is a 422.",
)
IDEMPOTENCY_REUSED_RESPONSE = OpenApiResponse(
    ErrorOutput,
    description=f"The {IDEMPOTENCY_HEADER} was used before with a different body "
    f"(code ``{IdempotencyKeyReused.default_code}``).",
)
NUMERIC_ID = "[0-9]+"
CRM_EXTERNAL_ID = OpenApiParameter(
    "crm_external_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Its id in your CRM, 1 to 100 characters (no slash).",
)


class _FeedbackViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    def idempotent(self, scope: str, handler: Any) -> Response:
        """Run ``handler`` (→ status, data) once per ``Idempotency-Key``; replays answer the same."""
        status_code, data, _ = run_idempotent(
            workspace=self.workspace,
            key=self.request.headers.get(IDEMPOTENCY_HEADER),
            scope=scope,
            body=self.request.data,
            handler=handler,
        )
        return Response(data, status=status_code)


# --- companies and contacts -----------------------------------------------------------


class CompanyViewSet(_FeedbackViewSet):
    """Customer companies; their ARR and segment weigh the demand they create.

    Deleting one (product managers) keeps its feedback and contacts, without a company.
    """

    serializer_class = CompanyOutput
    action_roles = {"destroy": Role.PRODUCT_MANAGER}
    filterset_class = CompanyFilter
    search_fields = ["name", "domain"]
    ordering_fields = ["name", "arr", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.company_list(workspace=workspace)

    @extend_schema(
        request=CompanyInput,
        responses={201: CompanyOutput},
        examples=[examples.COMPANY_REQUEST, examples.COMPANY_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        company = services.company_create(
            workspace=self.workspace, actor=request.user, data=self.validated(CompanyInput)
        )
        return self.render(company, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=CompanyInput, responses=CompanyOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        company = self.get_object()
        company = services.company_update(
            company=company, actor=request.user, data=self.validated(CompanyInput, partial=True)
        )
        return self.render(company)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.company_delete(company=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[CRM_EXTERNAL_ID],
        request=CompanyInput,
        responses={200: CompanyOutput, 201: CompanyOutput},
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-external-id/(?P<crm_external_id>[^/]{1,100})",
        filter_backends=[],
    )
    def upsert(self, request: Request, workspace_slug: str, crm_external_id: str) -> Response:
        """Create or update the company your CRM knows by this id (201 created, 200 updated).

        Idempotent: the same call again changes nothing. Fields left out are kept; a new
        company needs its ``name``."""
        company, created = services.company_upsert_by_external_id(
            workspace=self.workspace,
            actor=request.user,
            external_id=crm_external_id,
            data=self.validated(CompanyInput, partial=True),
        )
        return self.render(company, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ContactViewSet(_FeedbackViewSet):
    """People who give feedback and vote. A new contact without a company joins the
    company whose domain matches its e-mail. Deleting one (product managers) deletes its votes."""

    serializer_class = ContactOutput
    action_roles = {"destroy": Role.PRODUCT_MANAGER}
    filterset_class = ContactFilter
    search_fields = ["email", "name"]
    ordering_fields = ["email", "name", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.contact_list(workspace=workspace)

    @extend_schema(
        request=ContactInput,
        responses={201: ContactOutput},
        examples=[examples.CONTACT_REQUEST, examples.CONTACT_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        contact = services.contact_create(
            workspace=self.workspace, actor=request.user, data=self.validated(ContactInput)
        )
        return self.render(contact, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ContactInput, responses=ContactOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        contact = self.get_object()
        contact = services.contact_update(
            contact=contact, actor=request.user, data=self.validated(ContactInput, partial=True)
        )
        return self.render(contact)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.contact_delete(contact=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[CRM_EXTERNAL_ID],
        request=ContactInput,
        responses={200: ContactOutput, 201: ContactOutput},
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-external-id/(?P<crm_external_id>[^/]{1,100})",
        filter_backends=[],
    )
    def upsert(self, request: Request, workspace_slug: str, crm_external_id: str) -> Response:
        """Create or update the contact your CRM knows by this id (201 created, 200 updated).

        Idempotent: the same call again changes nothing. Fields left out are kept; a new
        contact needs its ``email``."""
        contact, created = services.contact_upsert_by_external_id(
            workspace=self.workspace,
            actor=request.user,
            external_id=crm_external_id,
            data=self.validated(ContactInput, partial=True),
        )
        return self.render(contact, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- feedback items -------------------------------------------------------------------

SUGGESTION_ID = OpenApiParameter(
    "suggestion_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="A duplicate suggestion's id."
)
FEATURE_ID = OpenApiParameter(
    "feature_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The linked feature's id."
)


class FeedbackItemViewSet(_FeedbackViewSet):
    """Feedback items, newest received first.

    An item merged into another answers ``GET`` with **301 Moved Permanently** and
    ``Location`` set to the surviving item's URL. The triage state changes only
    through ``POST .../state/`` (or ``.../bulk-state/``); linking to a feature marks
    an item ``linked``. Deleting an item needs the product manager role.
    """

    serializer_class = FeedbackItemOutput
    action_roles = {"destroy": Role.PRODUCT_MANAGER, "similar": Role.VIEWER}
    conflict_actions = {"change_state", "bulk_state", "merge", "add_link"}
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = FeedbackItemFilter
    ordering_fields = ["received_at", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.feedback_item_list(workspace=workspace)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=FeedbackItemCreateInput,
        examples=[examples.FEEDBACK_REQUEST, examples.FEEDBACK_RESPONSE],
        responses={
            201: FeedbackItemOutput,
            200: OpenApiResponse(FeedbackItemOutput, description="Already stored (same source_ref)."),
            422: IDEMPOTENCY_REUSED_RESPONSE,
        },
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Store one piece of feedback; honours ``Idempotency-Key``."""
        values = self.validated(FeedbackItemCreateInput)

        def handler() -> tuple[int, Any]:
            item, created = services.feedback_item_ingest(
                workspace=self.workspace, actor=request.user, data=values
            )
            code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
            return code, self.get_serializer(self.reloaded(item)).data

        return self.idempotent("feedback.create", handler)

    @extend_schema(responses={200: FeedbackItemOutput, 301: MERGED_REDIRECT_RESPONSE})
    def retrieve(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The item; **301** to the surviving item if this one was merged."""
        item = self.get_object()
        if item.merged_into_id is not None:
            return merged_redirect(
                request,
                route="feedback-item-detail",
                workspace_slug=workspace_slug,
                target_id=item.merged_into_id,
            )
        return Response(self.get_serializer(item).data)

    @extend_schema(request=FeedbackItemUpdateInput, responses=FeedbackItemOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        item = self.get_object()
        item = services.feedback_item_update(
            item=item, actor=request.user, data=self.validated(FeedbackItemUpdateInput, partial=True)
        )
        return self.render(item)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.feedback_item_delete(item=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- triage and merge ---

    @extend_schema(request=FeedbackStateInput, responses=FeedbackItemOutput)
    @action(detail=True, methods=["post"], url_path="state", filter_backends=[])
    def change_state(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Triage: new ↔ reviewed → archived and back; ``linked`` comes from linking a feature."""
        item = self.get_object()  # first: another workspace's item is a 404 whatever the body
        values = self.validated(FeedbackStateInput)
        item = services.feedback_item_change_state(item=item, to_state=values["state"], actor=request.user)
        return self.render(item)

    @extend_schema(request=FeedbackBulkStateInput, responses=FeedbackItemListOutput)
    @action(detail=False, methods=["post"], url_path="bulk-state", filter_backends=[])
    def bulk_state(self, request: Request, workspace_slug: str) -> Response:
        """Move several items to a state: all of them or none (one bad id or move fails the call)."""
        values = self.validated(FeedbackBulkStateInput)
        items = services.feedback_items_change_state(
            workspace=self.workspace, item_ids=values["ids"], to_state=values["state"], actor=request.user
        )
        rows = self.get_workspace_queryset(self.workspace).filter(pk__in=[item.pk for item in items])
        return Response({"results": self.get_serializer(rows, many=True).data})

    @extend_schema(request=FeedbackMergeInput, responses=FeedbackItemOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def merge(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Merge this item into ``into``: it keeps its links (its company still counts as
        asking), its tags join the target's, it is archived and its URL redirects (301) to
        ``into``, which lists it under "also asked by". Answers with the surviving item."""
        source = self.get_object()
        values = self.validated(FeedbackMergeInput)
        target = services.feedback_items_merge(source=source, target=values["into"], actor=request.user)
        return self.render(target)

    # --- duplicates and similarity ---

    @extend_schema(responses=DuplicateSuggestionOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def duplicates(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Likely duplicates found by the worker (open items and features), most similar first;
        dismissed ones are left out. A pair of items is one suggestion, listed on both items;
        dismissing it from either side dismisses it."""
        item = self.get_object()
        page = self.paginate_queryset(selectors.duplicate_suggestion_list(item=item))
        return self.get_paginated_response(
            DuplicateSuggestionOutput(page, many=True, context={"item": item}).data
        )

    @extend_schema(parameters=[SUGGESTION_ID], request=None, responses=DuplicateSuggestionOutput)
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"duplicates/(?P<suggestion_id>{NUMERIC_ID})/dismiss",
        filter_backends=[],
    )
    def dismiss_duplicate(
        self, request: Request, workspace_slug: str, pk: str, suggestion_id: str
    ) -> Response:
        """Not a duplicate: hide the suggestion (dismissing twice changes nothing)."""
        item = self.get_object()
        suggestions = selectors.duplicate_suggestion_list(item=item, include_dismissed=True)
        suggestion = services.duplicate_dismiss(
            suggestion=get_object_or_404(suggestions, pk=suggestion_id), actor=request.user
        )
        return Response(DuplicateSuggestionOutput(suggestion, context={"item": item}).data)

    @extend_schema(request=SimilarInput, responses=SimilarOutput)
    @action(detail=False, methods=["post"], filter_backends=[])
    def similar(self, request: Request, workspace_slug: str) -> Response:
        """Live suggestions for text not stored yet (e.g. as someone types in a submission
        form): open feedback and open features most like it. Writes nothing; viewers may
        call it (a token still needs the ``write`` scope, as for any POST)."""
        values = self.validated(SimilarInput)
        return Response(
            SimilarOutput(selectors.similar_to_text(workspace=self.workspace, text=values["text"])).data
        )

    # --- links ---

    @extend_schema(
        operation_id="v1_workspaces_feedback_item_links_list", responses=FeedbackLinkOutput(many=True)
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def links(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The features this item is linked to, by feature id."""
        page = self.paginate_queryset(selectors.feedback_link_list(item=self.get_object()))
        return self.get_paginated_response(FeedbackLinkOutput(page, many=True).data)

    @extend_schema(
        operation_id="v1_workspaces_feedback_item_links_create",
        request=FeedbackLinkInput,
        responses={201: FeedbackLinkOutput},
    )
    @links.mapping.post
    def add_link(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Link the item to a feature with an importance (again: updates the importance).
        A declined or merged feature is a 409."""
        item = self.get_object()
        values = self.validated(FeedbackLinkInput)
        link = services.feedback_link_create(
            item=item,
            feature=values["feature"],
            importance=values["importance"],
            actor=request.user,
        )
        link = selectors.feedback_link_list(item=link.item).get(pk=link.pk)
        return Response(FeedbackLinkOutput(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[FEATURE_ID], request=None, responses={204: None})
    @action(
        detail=True,
        methods=["delete"],
        url_path=rf"links/(?P<feature_id>{NUMERIC_ID})",
        filter_backends=[],
    )
    def remove_link(self, request: Request, workspace_slug: str, pk: str, feature_id: str) -> Response:
        link = get_object_or_404(selectors.feedback_link_list(item=self.get_object()), feature_id=feature_id)
        services.feedback_link_delete(link=link, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- bulk ingestion ---

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=FeedbackBulkInput,
        responses={200: FeedbackBulkOutput, 422: IDEMPOTENCY_REUSED_RESPONSE},
    )
    @action(detail=False, methods=["post"], filter_backends=[])
    def bulk(self, request: Request, workspace_slug: str) -> Response:
        """Store up to 1,000 items in one call; a result per item, in order.

        Each item has the fields of a single create (``contact`` / ``company`` by id).
        An invalid item is reported (``status: invalid`` with its errors) and skipped;
        an item whose ``source`` + ``source_ref`` is stored, or repeated earlier in the
        call, is a ``duplicate`` with the stored item's id. Honours ``Idempotency-Key``.
        """
        items = self.validated(FeedbackBulkInput)["items"]

        def handler() -> tuple[int, Any]:
            results = services.feedback_items_ingest_bulk(
                workspace=self.workspace, actor=request.user, items=items
            )
            body = {
                "results": [
                    {"index": r.index, "status": r.status, "id": r.id, "errors": r.errors} for r in results
                ],
                "created": sum(r.status == "created" for r in results),
                "duplicates": sum(r.status == "duplicate" for r in results),
                "invalid": sum(r.status == "invalid" for r in results),
            }
            return status.HTTP_200_OK, body

        return self.idempotent("feedback.bulk", handler)


# --- votes ----------------------------------------------------------------------------


class VoteViewSet(_FeedbackViewSet):
    """Votes of contacts for features: one per contact and feature, newest first."""

    serializer_class = VoteOutput
    conflict_actions = {"create"}  # a declined or merged feature
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = VoteFilter
    ordering_fields = ["created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.vote_list(workspace=workspace)

    @extend_schema(
        request=VoteInput,
        examples=[examples.VOTE_REQUEST, examples.VOTE_RESPONSE],
        responses={
            201: VoteOutput,
            200: OpenApiResponse(VoteOutput, description="The vote already existed."),
        },
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Cast a vote; voting again answers 200 with the existing vote. A declined or merged
        feature is a 409."""
        values = self.validated(VoteInput)
        vote, created = services.vote_cast(
            contact=values["contact"], feature=values["feature"], actor=request.user
        )
        return self.render(vote, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        vote = self.get_object()
        services.vote_remove(contact=vote.contact, feature=vote.feature, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FeedbackLinkViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Every link of feedback to a feature, for integrations that keep a copy (newest first).

    Links are made and removed through ``.../feedback/{id}/links/``; this list and its
    ``deleted/`` tombstones let a copy follow them with ``updated_after``."""

    serializer_class = FeedbackLinkListOutput
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = FeedbackLinkFilter
    ordering_fields = ["created_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.feedback_link_all(workspace=workspace)


# --- reports --------------------------------------------------------------------------


class FeedbackVolumeView(WorkspaceScopedAPIView):
    """Feedback received per ISO week (weeks start on Monday, UTC), per product (through
    the linked features; unlinked feedback under a null key) or per tag (untagged under
    null). Merged items are not counted."""

    query_parameters = {"get": {"by", "weeks"}}

    @extend_schema(
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=["product", "tag"], default="product"),
            OpenApiParameter(
                "weeks", OpenApiTypes.INT, default=12, description="1 to 104, ending this week."
            ),
        ],
        responses=VolumeOutput,
    )
    def get(self, request: Request, workspace_slug: str) -> Response:
        query = VolumeQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        volume = selectors.feedback_volume(workspace=self.workspace, **query.validated_data)
        return Response(VolumeOutput(volume).data)


class TopFeaturesView(WorkspaceScopedAPIView):
    """Features ranked by the summed ARR of the distinct companies asking for them (by
    linked feedback or by vote; a company counts once per feature), with how many
    companies, feedback items and votes ask. Merged features are left out."""

    query_parameters = {"get": {"limit"}}

    @extend_schema(
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT, default=20, description="1 to 100.")],
        responses=TopFeatureOutput(many=True),
    )
    def get(self, request: Request, workspace_slug: str) -> Response:
        query = TopFeaturesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.top_features(workspace=self.workspace, limit=query.validated_data["limit"])
        return Response(TopFeatureOutput(rows, many=True).data)


# --- settings -------------------------------------------------------------------------


class FeedbackSettingsView(WorkspaceScopedAPIView):
    """The workspace's feedback settings (one row; the defaults until an admin changes them):
    whether duplicates and features are suggested by meaning too. Members read them; admins
    change them."""

    write_role = Role.ADMIN

    @extend_schema(responses=FeedbackSettingsOutput)
    def get(self, request: Request, workspace_slug: str) -> Response:
        """Read the feedback settings."""
        return Response(FeedbackSettingsOutput(services.feedback_settings_get(workspace=self.workspace)).data)

    @extend_schema(request=FeedbackSettingsInput, responses=FeedbackSettingsOutput)
    def patch(self, request: Request, workspace_slug: str) -> Response:
        """Change the feedback settings (admins): turn suggestions by meaning on or off. Items
        already checked keep their suggestions; an unchanged value writes nothing."""
        data = FeedbackSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "semantic_suggestions" in data.validated_data:
            settings_row = services.feedback_settings_update(
                workspace=self.workspace,
                actor=request.user,
                semantic_suggestions=data.validated_data["semantic_suggestions"],
            )
        else:
            settings_row = services.feedback_settings_get(workspace=self.workspace)
        return Response(FeedbackSettingsOutput(settings_row).data)
