"""The Themes page (clusters of unlinked feedback) and its actions."""

from django.urls import path

from portal.views import themes

urlpatterns = [
    path("feedback/themes/", themes.themes, name="themes"),
    path("feedback/themes/recompute/", themes.recompute, name="themes-recompute"),
    path(
        "feedback/themes/<int:theme_id>/create-feature/", themes.create_feature, name="theme-create-feature"
    ),
    path("feedback/themes/<int:theme_id>/link/", themes.link_feature, name="theme-link"),
    path(
        "feedback/themes/<int:theme_id>/items/<int:item_id>/dismiss/",
        themes.dismiss_item,
        name="theme-dismiss-item",
    ),
]
