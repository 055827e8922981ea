"""The browsable API's renderer: DRF's, fitted to the site's Content-Security-Policy
(docs/security.md).

DRF's templates put ``style`` attributes on a few elements (the filter button, search box,
fieldsets), so a browsable API page allows inline style *attributes*, and nothing else:
``<style>`` elements, inline script and event handlers stay refused. Pygments' rules for
highlighted code in view descriptions would be a ``<style>`` element, so they are left out;
the sign-out link's inline ``onclick`` is a form instead (``templates/rest_framework/api.html``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import renderers

#: What a browsable API page adds to the site's policy (django-csp's ``_csp_update``).
BROWSABLE_API_CSP = {"style-src-attr": ["'unsafe-inline'"]}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_context(self, data: Any, accepted_media_type: str, renderer_context: dict) -> dict:
        context = super().get_context(data, accepted_media_type, renderer_context)
        context["code_style"] = None
        return context

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None
    ) -> Any:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {**(getattr(response, "_csp_update", None) or {}), **BROWSABLE_API_CSP}
        return super().render(data, accepted_media_type, renderer_context)
