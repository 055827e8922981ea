"""Feedback pages: the triage inbox, one item and its actions, CSV import, companies."""

from django.urls import path

from portal.views import companies, feedback, feedback_settings

urlpatterns = [
    path("feedback/", feedback.inbox, name="inbox"),
    path("feedback/bulk/", feedback.bulk, name="feedback-bulk"),
    path("feedback/features/", feedback.feature_options, name="feedback-feature-options"),
    path("feedback/import/", feedback.csv_import, name="feedback-import"),
    path("feedback/create-feature/", feedback.create_feature, name="feedback-create-feature"),
    path("feedback/<int:item_id>/", feedback.feedback_item, name="feedback-item"),
    path("feedback/<int:item_id>/state/", feedback.item_state, name="feedback-state"),
    path("feedback/<int:item_id>/link/", feedback.item_link, name="feedback-link"),
    path("feedback/<int:item_id>/merge/", feedback.item_merge, name="feedback-merge"),
    path(
        "feedback/<int:item_id>/suggestions/<int:suggestion_id>/dismiss/",
        feedback.suggestion_dismiss,
        name="feedback-dismiss",
    ),
    path("settings/feedback/", feedback_settings.feedback_settings, name="settings-feedback"),
    path("companies/", companies.company_list, name="companies"),
    path("companies/new/", companies.company_new, name="company-new"),
    path("companies/<int:company_id>/", companies.company_detail, name="company"),
    path("companies/<int:company_id>/edit/", companies.company_edit, name="company-edit"),
    path("companies/<int:company_id>/delete/", companies.company_delete, name="company-delete"),
]
