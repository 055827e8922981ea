"""The quick "New feature" form of the roadmap pages and the dashboard
(``portal/roadmap/_new_feature.html``), built where it is shown, so those pages' views need
nothing for it."""

from __future__ import annotations

from django import template

from portal.forms.features import QUICK_AUTO_ID, QUICK_SECTION, FeatureForm

register = template.Library()


@register.simple_tag(takes_context=True)
def quick_feature_form(context: template.Context) -> FeatureForm:
    """Title and product; the product filter of the page, if any, is chosen (one query: the
    products, when the form renders)."""
    request = context["request"]
    product = request.GET.get("product", "")
    return FeatureForm(
        workspace=request.workspace,
        sections=[QUICK_SECTION],
        auto_id=QUICK_AUTO_ID,
        initial={"product": product} if product.isdigit() else None,
    )
