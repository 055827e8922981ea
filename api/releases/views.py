"""Releases API: releases and their actions (status, readiness, ship plan, shipping,
cancelling, notes), scope items, launch checklists and their template, success metrics
and their actuals, and the release and changelog settings.

Views validate input, call a service or selector and render; nothing else. The rules
(versions, roles, shipping) are the services'; their errors render through the one
exception handler.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api import examples
from api.releases.filters import (
    ChecklistTaskFilter,
    ChecklistTemplateItemFilter,
    ReleaseFilter,
    ScopeItemFilter,
    SuccessMetricFilter,
)
from api.releases.serializers import (
    ChangelogSettingsInput,
    ChangelogSettingsOutput,
    ChecklistTaskCreateInput,
    ChecklistTaskOutput,
    ChecklistTaskUpdateInput,
    ChecklistTemplateItemInput,
    ChecklistTemplateItemOutput,
    MetricActualInput,
    MetricActualOutput,
    ReleaseCancelInput,
    ReleaseCreateInput,
    ReleaseNotesGeneratedOutput,
    ReleaseNotesGenerateInput,
    ReleaseNotesInput,
    ReleaseNotesOutput,
    ReleaseNotesPreviewInput,
    ReleaseNotesPreviewOutput,
    ReleaseOutput,
    ReleaseReadinessOutput,
    ReleaseSettingsInput,
    ReleaseSettingsOutput,
    ReleaseShipInput,
    ReleaseStatusChangeOutput,
    ReleaseStatusInput,
    ReleaseUpdateInput,
    ScopeItemCreateInput,
    ScopeItemMoveInput,
    ScopeItemOutput,
    ScopeItemUpdateInput,
    ShipOutput,
    ShipPlanOutput,
    SuccessMetricCreateInput,
    SuccessMetricOutput,
    SuccessMetricUpdateInput,
)
from productops.api.base import TombstonesMixin, WorkspaceResourceViewSet, WorkspaceScopedAPIView
from productops.models import Event, Role, Workspace
from releases import notes as release_notes
from releases import selectors, services
from releases.models import Release

# --- releases -----------------------------------------------------------------------------


class ReleaseViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Releases of the workspace's products, by planned date, each with its readiness and risk.

    The status moves through ``POST .../status/`` (planned, in progress, code complete),
    ``.../ship/`` and ``.../cancel/``. Product managers plan and ship; forcing a ship with
    unfinished must-haves needs an admin and a reason.
    """

    serializer_class = ReleaseOutput
    write_role = Role.PRODUCT_MANAGER
    conflict_actions = {"destroy", "change_status", "ship", "cancel"}
    filterset_class = ReleaseFilter
    search_fields = ["name", "version"]
    ordering_fields = ["planned_date", "created_at", "name"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.release_list(workspace=workspace)

    def list(self, request: Request, workspace_slug: str) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # The health of the whole page at once: a constant number of queries.
        health = selectors.release_health(workspace=self.workspace, releases=page)
        rows = ReleaseOutput(page, many=True, context={**self.get_serializer_context(), "health": health})
        return self.get_paginated_response(rows.data)

    @extend_schema(
        request=ReleaseCreateInput,
        responses={201: ReleaseOutput},
        examples=[examples.RELEASE_REQUEST, examples.RELEASE_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Plan a release of a product; its launch checklist is copied from the template."""
        release = services.release_create(
            workspace=self.workspace, actor=request.user, data=self.validated(ReleaseCreateInput)
        )
        return self.render(release, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ReleaseUpdateInput, responses=ReleaseOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        release = services.release_update(
            release=self.get_object(),
            actor=request.user,
            data=self.validated(ReleaseUpdateInput, partial=True),
        )
        return self.render(release)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Delete a release that has not shipped (409 for a shipped one: it is history)."""
        services.release_delete(release=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ReleaseStatusInput, responses=ReleaseOutput)
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[])
    def change_status(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Move the release between planned, in progress and code complete."""
        release = self.get_object()  # first: another workspace's release is a 404 whatever the body
        values = self.validated(ReleaseStatusInput)
        release = services.release_change_status(
            release=release, to_status=values["status"], reason=values.get("reason", ""), actor=request.user
        )
        return self.render(release)

    @extend_schema(responses=ReleaseReadinessOutput)
    @action(detail=True, methods=["get"], filter_backends=[])
    def readiness(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The release's readiness (what is missing) and risk (why)."""
        release = self.get_object()
        health = selectors.release_health(workspace=self.workspace, releases=[release])[release.pk]
        return Response(ReleaseReadinessOutput(health).data)

    @extend_schema(responses=ShipPlanOutput)
    @action(detail=True, methods=["get"], url_path="ship-plan", filter_backends=[])
    def ship_plan(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """What shipping would do now: the features that ship, and what blocks it or moves out."""
        return Response(ShipPlanOutput(services.ship_plan(release=self.get_object())).data)

    @extend_schema(request=ReleaseShipInput, responses=ShipOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def ship(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Ship the release, all or nothing: its done features are marked shipped, the rest
        moves (to ``move_unfinished_to`` or the backlog), the notes are published and one
        ``release.shipped`` event is recorded. Shipping a shipped release changes nothing
        (``changed`` false) and answers the same. 409 ``must_haves_unfinished`` and
        ``dependencies_unshipped`` list the ``features``."""
        release = self.get_object()
        values = self.validated(ReleaseShipInput)
        result = services.release_ship(
            release=release,
            actor=request.user,
            force=values["force"],
            reason=values.get("reason", ""),
            move_unfinished_to=values.get("move_unfinished_to"),
        )
        return Response(ShipOutput(self._shipped(result), context=self.get_serializer_context()).data)

    def _shipped(self, result: services.ShipResult) -> dict[str, Any]:
        # Read from the one release.shipped event, so a second call answers what the first did.
        payload = result.event.payload if isinstance(result.event, Event) else {}
        release = self.reloaded(result.release)
        return {
            "release": release,
            "shipped": [{"id": f["id"], "title": f["title"]} for f in payload.get("features", [])],
            "moved": [
                {"id": f["id"], "title": f["title"], "to_release": f["to_release"]}
                for f in payload.get("moved", [])
            ],
            # A replay cannot ask the service: the draft is what it was (publishing keeps it).
            "notes_generated": result.notes_generated if result.changed else not release.notes.strip(),
            "event": result.event.pk if result.event is not None else None,
            "changed": result.changed,
        }

    @extend_schema(request=ReleaseCancelInput, responses=ReleaseOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Cancel a release that has not shipped; its scope closes and the features are free again."""
        release = self.get_object()
        values = self.validated(ReleaseCancelInput)
        release = services.release_cancel(
            release=release, actor=request.user, reason=values.get("reason", "")
        )
        return self.render(release)

    @extend_schema(responses=ReleaseStatusChangeOutput(many=True))
    @action(detail=True, methods=["get"], url_path="status-history", filter_backends=[])
    def status_history(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Every status change of the release, newest first."""
        page = self.paginate_queryset(selectors.release_status_history(release=self.get_object()))
        return self.get_paginated_response(ReleaseStatusChangeOutput(page, many=True).data)

    # --- notes ---

    def _notes(self, release: Release) -> Response:
        return Response(
            ReleaseNotesOutput(
                {
                    "notes": release.notes,
                    "published_notes": release.published_notes,
                    "notes_html": release_notes.render(release.notes),
                    "published_html": release_notes.render(release.published_notes),
                    "notes_published_at": release.notes_published_at,
                    "generated": services.notes_generate(release=release),
                }
            ).data
        )

    @extend_schema(responses=ReleaseNotesOutput)
    @action(detail=True, methods=["get"], filter_backends=[])
    def notes(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Read the release notes: the draft, what was published, both rendered to safe HTML, and
        notes generated from the scope now."""
        return self._notes(self.get_object())

    @extend_schema(request=ReleaseNotesInput, responses=ReleaseNotesOutput)
    @notes.mapping.patch
    def update_notes(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Save the notes draft (Markdown, stored as written and made safe when rendered)."""
        release = self.get_object()
        values = self.validated(ReleaseNotesInput, partial=True)
        if "notes" in values:
            release = services.release_notes_update(
                release=release, actor=request.user, notes=values["notes"]
            )
        return self._notes(release)

    @extend_schema(request=ReleaseNotesGenerateInput, responses=ReleaseNotesGeneratedOutput)
    @action(detail=True, methods=["post"], url_path="notes/generate", filter_backends=[])
    def notes_generate(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Notes generated from the scope now (its done features and open must-haves); with
        ``save``, kept as the draft too."""
        release = self.get_object()
        values = self.validated(ReleaseNotesGenerateInput)
        generated = services.notes_generate(release=release)
        if values["save"]:
            services.release_notes_update(release=release, actor=request.user, notes=generated)
        return Response(ReleaseNotesGeneratedOutput({"notes": generated, "saved": values["save"]}).data)

    @extend_schema(request=ReleaseNotesPreviewInput, responses=ReleaseNotesPreviewOutput)
    @action(detail=True, methods=["post"], url_path="notes/preview", filter_backends=[])
    def notes_preview(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Notes (Markdown) rendered as the changelog would show them; nothing is saved."""
        self.get_object()
        values = self.validated(ReleaseNotesPreviewInput)
        return Response(ReleaseNotesPreviewOutput({"html": release_notes.render(values["notes"])}).data)

    @extend_schema(request=None, responses=ReleaseNotesOutput)
    @action(detail=True, methods=["post"], url_path="notes/publish", filter_backends=[])
    def notes_publish(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Publish the draft (or, with none, the generated notes) to the changelog."""
        return self._notes(services.release_notes_publish(release=self.get_object(), actor=request.user))


# --- scope ------------------------------------------------------------------------------------


class ScopeItemViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Features in releases. Open rows are a release's plan (a feature is in at most one open
    release); closed rows are history (shipped, moved, deferred, cancelled). Contributors
    move the delivery state along; product managers plan the rest."""

    serializer_class = ScopeItemOutput
    write_role = Role.PRODUCT_MANAGER
    # Contributors may change the state; the service refuses them anything else.
    action_roles = {"partial_update": Role.CONTRIBUTOR}
    conflict_actions = {"create", "partial_update", "destroy", "move"}
    filterset_class = ScopeItemFilter
    ordering_fields = ["position", "added_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.scope_item_list(workspace=workspace)

    @extend_schema(request=ScopeItemCreateInput, responses={201: ScopeItemOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Put a feature in a release (same product, in no other open release)."""
        values = dict(self.validated(ScopeItemCreateInput))
        release, feature = values.pop("release"), values.pop("feature")
        item = services.scope_add(release=release, feature=feature, actor=request.user, data=values)
        return self.render(item, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ScopeItemUpdateInput, responses=ScopeItemOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        item = services.scope_update(
            item=self.get_object(),
            actor=request.user,
            data=self.validated(ScopeItemUpdateInput, partial=True),
        )
        return self.render(item)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Take the feature out of its open release."""
        services.scope_remove(item=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ScopeItemMoveInput, responses=ScopeItemOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def move(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Move the feature to another open release of the product; answers with its new scope row
        (this one closes as moved)."""
        item = self.get_object()
        values = self.validated(ScopeItemMoveInput)
        moved = services.scope_move(item=item, to_release=values["release"], actor=request.user)
        return self.render(moved)


# --- checklists ---------------------------------------------------------------------------------


class ChecklistTaskViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Launch checklist tasks of releases. Contributors take tasks on (owner, due date,
    state); product managers add, edit and remove them."""

    serializer_class = ChecklistTaskOutput
    write_role = Role.PRODUCT_MANAGER
    action_roles = {"partial_update": Role.CONTRIBUTOR}
    conflict_actions = {"create", "destroy"}  # a shipped or cancelled release
    filterset_class = ChecklistTaskFilter
    search_fields = ["title"]
    ordering_fields = ["due_date", "position", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.checklist_task_list(workspace=workspace)

    @extend_schema(request=ChecklistTaskCreateInput, responses={201: ChecklistTaskOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        values = dict(self.validated(ChecklistTaskCreateInput))
        release = values.pop("release")
        task = services.checklist_task_create(release=release, actor=request.user, data=values)
        return self.render(task, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ChecklistTaskUpdateInput, responses=ChecklistTaskOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        task = services.checklist_task_update(
            task=self.get_object(),
            actor=request.user,
            data=self.validated(ChecklistTaskUpdateInput, partial=True),
        )
        return self.render(task)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.checklist_task_delete(task=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChecklistTemplateViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """The launch checklist every new release starts with, due relative to its planned date
    (``relative_due``, e.g. "-7 days"). A workspace starts with a default one."""

    serializer_class = ChecklistTemplateItemOutput
    write_role = Role.PRODUCT_MANAGER
    filterset_class = ChecklistTemplateItemFilter
    search_fields = ["title"]
    ordering_fields = ["position", "title", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.checklist_template(workspace=workspace).order_by("position", "id")

    def list(self, request: Request, workspace_slug: str) -> Response:
        # The first read gives the workspace the default template, so there is one to edit.
        services.checklist_template_ensure(workspace=self.workspace)
        return super().list(request, workspace_slug)

    @extend_schema(request=ChecklistTemplateItemInput, responses={201: ChecklistTemplateItemOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        item = services.checklist_template_item_create(
            workspace=self.workspace, actor=request.user, data=self.validated(ChecklistTemplateItemInput)
        )
        return self.render(item, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ChecklistTemplateItemInput, responses=ChecklistTemplateItemOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        item = services.checklist_template_item_update(
            item=self.get_object(),
            actor=request.user,
            data=self.validated(ChecklistTemplateItemInput, partial=True),
        )
        return self.render(item)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.checklist_template_item_delete(item=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- success metrics ------------------------------------------------------------------------------


class SuccessMetricViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """What a launch should move, for a release or a feature: a baseline, a target and a review
    date, with the actual (its key result's current value, or the last recorded actual).
    Product managers define them; contributors record actuals."""

    serializer_class = SuccessMetricOutput
    write_role = Role.PRODUCT_MANAGER
    action_roles = {"record_actual": Role.CONTRIBUTOR}
    filterset_class = SuccessMetricFilter
    search_fields = ["name"]
    ordering_fields = ["review_date", "created_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.success_metric_list(workspace=workspace)

    @extend_schema(request=SuccessMetricCreateInput, responses={201: SuccessMetricOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        metric = services.success_metric_create(
            workspace=self.workspace, actor=request.user, data=self.validated(SuccessMetricCreateInput)
        )
        return self.render(metric, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=SuccessMetricUpdateInput, responses=SuccessMetricOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        metric = services.success_metric_update(
            metric=self.get_object(),
            actor=request.user,
            data=self.validated(SuccessMetricUpdateInput, partial=True),
        )
        return self.render(metric)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.success_metric_delete(metric=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=MetricActualOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def actuals(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The metric's recorded actuals, latest first."""
        page = self.paginate_queryset(selectors.metric_actuals(metric=self.get_object()))
        return self.get_paginated_response(MetricActualOutput(page, many=True).data)

    @extend_schema(request=MetricActualInput, responses={201: MetricActualOutput})
    @actuals.mapping.post
    def record_actual(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Record a measured value of the metric (contributors and up)."""
        metric = self.get_object()
        values = self.validated(MetricActualInput)
        actual = services.metric_actual_record(
            metric=metric,
            actor=request.user,
            value=values["value"],
            recorded_on=values.get("recorded_on"),
            note=values.get("note", ""),
        )
        return Response(MetricActualOutput(actual).data, status=status.HTTP_201_CREATED)


# --- settings ---------------------------------------------------------------------------------------


class ReleaseSettingsView(WorkspaceScopedAPIView):
    """The workspace's release planning settings (one row); admins change them."""

    write_role = Role.ADMIN

    @extend_schema(responses=ReleaseSettingsOutput)
    def get(self, request: Request, workspace_slug: str) -> Response:
        """Read the release settings."""
        return Response(ReleaseSettingsOutput(selectors.release_settings(workspace=self.workspace)).data)

    @extend_schema(request=ReleaseSettingsInput, responses=ReleaseSettingsOutput)
    def patch(self, request: Request, workspace_slug: str) -> Response:
        """Change the release settings (admins)."""
        data = ReleaseSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        settings_row = services.release_settings_update(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(ReleaseSettingsOutput(settings_row).data)


class ChangelogSettingsView(WorkspaceScopedAPIView):
    """The workspace's public changelog (one row): off until an admin turns it on."""

    write_role = Role.ADMIN

    @extend_schema(responses=ChangelogSettingsOutput)
    def get(self, request: Request, workspace_slug: str) -> Response:
        """Read the changelog settings."""
        return Response(ChangelogSettingsOutput(selectors.changelog_settings(workspace=self.workspace)).data)

    @extend_schema(request=ChangelogSettingsInput, responses=ChangelogSettingsOutput)
    def patch(self, request: Request, workspace_slug: str) -> Response:
        """Change the changelog settings: turn it on or off, its title and intro (admins)."""
        data = ChangelogSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        settings_row = services.changelog_settings_update(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(ChangelogSettingsOutput(settings_row).data)
