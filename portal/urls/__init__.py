"""The team portal's URLs (namespace ``portal``).

Workspace pages live under ``/w/<workspace_slug>/``; each area has its own module
here, so pages are added without touching the others.
"""

from django.urls import include, path

from portal.urls import (
    board,
    comms,
    contacts,
    feedback,
    pickers,
    planning,
    releases,
    roadmap,
    search,
    share,
    workspace,
)
from portal.views import auth, dashboard, home, invitations

app_name = "portal"

workspace_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    *roadmap.urlpatterns,
    *releases.urlpatterns,
    *feedback.urlpatterns,
    path("", include("portal.urls.themes")),
    *workspace.urlpatterns,
    *board.urlpatterns,
    *comms.urlpatterns,
    *planning.urlpatterns,
    *contacts.urlpatterns,
    *pickers.urlpatterns,
    *search.urlpatterns,
    *share.urlpatterns,
]

urlpatterns = [
    path("", home.home, name="home"),
    # The link in invitation e-mails (productops.services builds it from PUBLIC_BASE_URL).
    path("invitations/accept/", invitations.invitation_accept, name="invitation-accept-page"),
    *auth.urlpatterns,
    *share.public_urlpatterns,
    path("w/<slug:workspace_slug>/", include(workspace_patterns)),
]
