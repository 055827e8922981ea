"""Saved views and their read-only share links (issue 13).

``urlpatterns`` live inside ``/w/<slug>/``; ``public_urlpatterns`` (the signed-out shared page)
at the portal's top level.
"""

from django.urls import path

from portal.views import saved_views, share

urlpatterns = [
    path("views/", saved_views.saved_views, name="saved-views"),
    path("views/save/", saved_views.save, name="saved-view-save"),
    path("views/menu/", saved_views.menu, name="saved-views-menu"),
    path("views/<int:view_id>/", saved_views.edit, name="saved-view-edit"),
    path("views/<int:view_id>/delete/", saved_views.delete, name="saved-view-delete"),
    path("views/<int:view_id>/links/", share.links, name="share-links"),
    path("views/<int:view_id>/links/created/", share.link_created, name="share-link-created"),
    path("share-links/<int:link_id>/revoke/", share.link_revoke, name="share-link-revoke"),
]

# Signed-out pages (outside /w/<slug>/), mounted at the portal's top level.
public_urlpatterns = [
    path("shared/<str:key>/", share.shared_view, name="shared-view"),
]
