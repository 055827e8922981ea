"""The global search (issue 13): ``search/?q=``; and the "Sent e-mails (dev)" page
(DEBUG and staff only, ``portal.views.dev_emails``)."""

from django.urls import path

from portal.views import dev_emails, search

urlpatterns: list = [
    path("search/", search.search, name="search"),
    path("dev/emails/", dev_emails.sent_emails, name="dev-emails"),
]
