"""Release pages: the list, one release and its actions, the ship confirmation, release settings."""

from django.urls import path

from portal.views import releases

R = "releases/<int:release_id>/"

urlpatterns = [
    path("releases/", releases.release_list, name="releases"),
    path("releases/new/", releases.release_create, name="release-create"),
    path(R, releases.release_detail, name="release"),
    path(R + "edit/", releases.release_edit, name="release-edit"),
    path(R + "status/", releases.release_status, name="release-status"),
    path(R + "cancel/", releases.release_cancel, name="release-cancel"),
    path(R + "delete/", releases.release_delete, name="release-delete"),
    path(R + "scope/", releases.scope_add, name="release-scope-add"),
    path(R + "scope/<int:item_id>/", releases.scope_update, name="release-scope-update"),
    path(R + "scope/<int:item_id>/remove/", releases.scope_remove, name="release-scope-remove"),
    path(R + "scope/<int:item_id>/move/", releases.scope_move, name="release-scope-move"),
    path(R + "tasks/", releases.task_add, name="release-task-add"),
    path(R + "tasks/<int:task_id>/", releases.task_update, name="release-task-update"),
    path(R + "tasks/<int:task_id>/delete/", releases.task_delete, name="release-task-delete"),
    path(R + "notes/", releases.notes_save, name="release-notes"),
    path(R + "notes/preview/", releases.notes_preview, name="release-notes-preview"),
    path(R + "notes/generate/", releases.notes_generate, name="release-notes-generate"),
    path(R + "notes/publish/", releases.notes_publish, name="release-notes-publish"),
    path(R + "metrics/", releases.metric_add, name="release-metric-add"),
    path(R + "metrics/<int:metric_id>/", releases.metric_edit, name="release-metric-edit"),
    path(R + "metrics/<int:metric_id>/actuals/", releases.metric_actual, name="release-metric-actual"),
    path(R + "metrics/<int:metric_id>/review/", releases.metric_review, name="release-metric-review"),
    path(R + "metrics/<int:metric_id>/delete/", releases.metric_delete, name="release-metric-delete"),
    path(R + "ship/", releases.release_ship, name="release-ship"),
    path("settings/releases/", releases.release_settings, name="settings-releases"),
    path("settings/releases/checklist/", releases.template_item_add, name="settings-checklist-add"),
    path(
        "settings/releases/checklist/<int:item_id>/",
        releases.template_item_edit,
        name="settings-checklist-edit",
    ),
    path(
        "settings/releases/checklist/<int:item_id>/delete/",
        releases.template_item_delete,
        name="settings-checklist-delete",
    ),
]
