from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from productops import health
from productops.api.renderers import BROWSABLE_API_CSP
from productops.csp_report import csp_report
from productops.login_throttle import throttle_login

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/login/", throttle_login(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path(
        "api/auth/login/",
        # The browsable API's sign-in page: DRF's template has style attributes, as its pages do.
        csp_update(BROWSABLE_API_CSP)(
            throttle_login(auth_views.LoginView.as_view(template_name="rest_framework/login.html"))
        ),
        name="login",
    ),
    path("api/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The API docs (docs/security.md): no inline script and no third-party origin on either page.
    # Swagger UI keeps the site's policy (its init script is a file: the split view). ReDoc's
    # bundle adds <style> elements as it loads, before any nonce could reach it, and runs its
    # search in a blob: worker: that page alone allows inline styles and blob: workers.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs/swagger_ui.html"),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api_docs/redoc.html")
        ),
        name="api-redoc",
    ),
    # Where browsers report Content-Security-Policy violations (the policy's report-uri).
    path("csp-report/", csp_report, name="csp-report"),
    path("p/", include("board.urls")),
]
if settings.ANYMAIL.get("WEBHOOK_SECRET"):
    # The e-mail provider's bounce and complaint webhooks (django-anymail, authenticated with
    # that secret); without a secret they are not mounted at all.
    urlpatterns.append(path("anymail/", include("anymail.urls")))
urlpatterns.append(path("", include("portal.urls")))

handler404 = "productops.api.exceptions.handler404"
handler500 = "productops.api.exceptions.handler500"
