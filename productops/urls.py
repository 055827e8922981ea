from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from productops import health
from productops.login_throttle import throttle_login

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/login/", throttle_login(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path(
        "api/auth/login/",
        throttle_login(auth_views.LoginView.as_view(template_name="rest_framework/login.html")),
        name="login",
    ),
    path("api/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("p/", include("board.urls")),
]
if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # The e-mail provider's bounce and complaint webhooks (django-anymail, authenticated with
    # that secret); without a secret they are not mounted at all.
    urlpatterns.append(path("anymail/", include("anymail.urls")))
urlpatterns.append(path("", include("portal.urls")))

handler404 = "productops.api.exceptions.handler404"
handler500 = "productops.api.exceptions.handler500"
