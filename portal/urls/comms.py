"""Comms pages: stakeholders and subscriptions, digest previews, the delivery log, webhook
endpoints and thresholds, the comms settings, and who a release or feature will tell."""

from django.urls import path

from portal.views import comms, deliveries, webhooks

S = "comms/stakeholders/<int:stakeholder_id>/"
SUB = "comms/subscriptions/<int:subscription_id>/"
D = "comms/deliveries/<int:delivery_id>/"
W = "settings/webhooks/<int:endpoint_id>/"

urlpatterns = [
    path("comms/stakeholders/", comms.stakeholder_list, name="comms-stakeholders"),
    path("comms/stakeholders/new/", comms.stakeholder_create, name="comms-stakeholder-create"),
    path(S, comms.stakeholder_detail, name="comms-stakeholder"),
    path(S + "edit/", comms.stakeholder_edit, name="comms-stakeholder-edit"),
    path(S + "delete/", comms.stakeholder_delete, name="comms-stakeholder-delete"),
    path(S + "subscriptions/", comms.subscription_create, name="comms-subscription-create"),
    path(SUB + "edit/", comms.subscription_edit, name="comms-subscription-edit"),
    path(SUB + "delete/", comms.subscription_delete, name="comms-subscription-delete"),
    path(SUB + "digest/", comms.digest_preview, name="comms-digest"),
    path(SUB + "digest/html/", comms.digest_preview_html, name="comms-digest-html"),
    path(SUB + "digest/test/", comms.digest_send_test, name="comms-digest-test"),
    path("comms/deliveries/", deliveries.delivery_list, name="comms-deliveries"),
    path("comms/deliveries/retry/", deliveries.deliveries_retry, name="comms-deliveries-retry"),
    path(D, deliveries.delivery_detail, name="comms-delivery"),
    path(D + "html/", deliveries.delivery_html, name="comms-delivery-html"),
    path(D + "retry/", deliveries.delivery_retry, name="comms-delivery-retry"),
    path("releases/<int:release_id>/told/", comms.release_told, name="comms-release-told"),
    path("features/<int:feature_id>/loop-notice/", comms.feature_notice_html, name="comms-feature-notice"),
    path("settings/comms/", comms.comms_settings, name="settings-comms"),
    path("settings/webhooks/", webhooks.endpoint_list, name="settings-webhooks"),
    path("settings/webhooks/new/", webhooks.endpoint_create, name="settings-webhook-create"),
    path(W, webhooks.endpoint_detail, name="settings-webhook"),
    path(W + "secret/", webhooks.endpoint_secret, name="settings-webhook-secret"),
    path(W + "edit/", webhooks.endpoint_edit, name="settings-webhook-edit"),
    path(W + "rotate/", webhooks.endpoint_rotate, name="settings-webhook-rotate"),
    path(W + "delete/", webhooks.endpoint_delete, name="settings-webhook-delete"),
    path(W + "test/", webhooks.endpoint_send_test, name="settings-webhook-test"),
    path("settings/webhooks/thresholds/", webhooks.threshold_create, name="settings-threshold-create"),
    path(
        "settings/webhooks/thresholds/<int:threshold_id>/delete/",
        webhooks.threshold_delete,
        name="settings-threshold-delete",
    ),
]
