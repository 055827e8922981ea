"""The project's URLs plus the benchmarks' floors: in-process (``bench.pages.with_floors``) and
served by the API load stack (``bench.floor_settings``)."""

from django.urls import include, path

from bench.floor import features_page
from bench.pages import FLOOR_PREFIX, board_home_floor, release_list_floor

urlpatterns = [
    path("bench/floor/<slug:slug>/features/", features_page),
    path(f"{FLOOR_PREFIX}board/<slug:workspace_slug>/", board_home_floor),
    path(f"{FLOOR_PREFIX}releases/<slug:workspace_slug>/", release_list_floor),
    path("", include("productops.urls")),
]
