"""Sent e-mails (dev): the workspace's latest e-mail deliveries with their stored bodies.

A newcomer running ``make run`` finds the magic link or invitation the app just "sent"
here instead of in var/mail/ or the logs. Read-only; only with ``DEBUG`` on and for staff
(the demo user is staff in DEBUG, ``seed_demo``); anyone else, and everyone in production,
gets a 404, so the page does not exist there.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.access import workspace_page
from productops.outbox import selectors as outbox_selectors

LIMIT = 25


def dev_emails_allowed(user) -> bool:
    return bool(settings.DEBUG and user.is_authenticated and user.is_active and user.is_staff)


@require_GET
@workspace_page()
def sent_emails(request: HttpRequest) -> HttpResponse:
    if not dev_emails_allowed(request.user):
        raise Http404("No such page.")
    emails = list(outbox_selectors.emails_latest(workspace=request.workspace, limit=LIMIT))
    return render(
        request,
        "portal/dev_emails.html",
        {"emails": emails, "limit": LIMIT, "email_backend": settings.EMAIL_BACKEND},
    )
