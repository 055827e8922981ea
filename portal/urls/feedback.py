"""Feedback pages: the triage inbox, one item, CSV import, companies."""

from django.urls import path

from portal.views.placeholder import placeholder

urlpatterns = [
    path("feedback/", placeholder("Feedback inbox"), name="inbox"),
    path("feedback/<int:item_id>/", placeholder("Feedback"), name="feedback-item"),
    path("feedback/import/", placeholder("Import feedback"), name="feedback-import"),
    path("companies/", placeholder("Companies"), name="companies"),
    path("companies/<int:company_id>/", placeholder("Company"), name="company"),
]
