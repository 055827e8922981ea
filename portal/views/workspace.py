"""The workspace's own settings (``/w/<slug>/settings/workspace/``, admins): its name, the
currency money is added up in, the rates of the other currencies companies use, and the
sites that may embed its public board and changelog (docs/security.md).

``productops.services.workspace_update`` (the service ``PATCH /api/v1/workspaces/{slug}/``
calls) holds the rules: a currency some company's ARR is in keeps its rate, and a change
of rates re-scores the workspace.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from feedback.services import currencies_in_use
from portal.access import workspace_page
from portal.forms import add_domain_error
from portal.forms.workspace import CurrencyRateFormSet, WorkspaceSettingsForm
from productops import services
from productops.errors import DomainError
from productops.models import Role


@require_http_methods(["GET", "POST"])
@workspace_page(Role.ADMIN)
def workspace_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    initial_rates = [
        {"code": code, "rate": rate} for code, rate in sorted((workspace.currency_rates or {}).items())
    ]
    if request.method == "POST":
        form = WorkspaceSettingsForm(request.POST)
        rates = CurrencyRateFormSet(request.POST, prefix="rates")
        if form.is_valid() and rates.is_valid():
            data = {
                "name": form.cleaned_data["name"],
                "reporting_currency": form.cleaned_data["reporting_currency"].upper(),
                "currency_rates": {
                    row["code"].upper(): str(row["rate"]) for row in rates.cleaned_data if row.get("code")
                },
                "embed_origins": form.embed_origin_lines(),
            }
            try:
                services.workspace_update(workspace=workspace, actor=request.user, data=data)
            except DomainError as exc:
                attr = exc.attr or ""
                if attr.startswith("currency_rates"):
                    form.add_error(None, exc.detail)
                elif attr.startswith("embed_origins."):
                    # The service names the item; the form shows its line.
                    line = int(attr.removeprefix("embed_origins.")) + 1
                    form.add_error("embed_origins", f"Line {line}: {exc.detail}")
                else:
                    add_domain_error(form, exc)
            else:
                messages.success(request, "Workspace settings saved.")
                return redirect("portal:workspace-settings", workspace_slug=workspace.slug)
    else:
        form = WorkspaceSettingsForm(
            initial={
                "name": workspace.name,
                "reporting_currency": workspace.reporting_currency,
                "embed_origins": "\n".join(workspace.embed_origins or []),
            }
        )
        rates = CurrencyRateFormSet(initial=initial_rates, prefix="rates")
    in_use = sorted(currencies_in_use(workspace=workspace))
    rated = {workspace.reporting_currency, *(workspace.currency_rates or {})}
    return render(
        request,
        "portal/settings/workspace.html",
        {
            "form": form,
            "rates": rates,
            "in_use": in_use,
            # Companies whose ARR counts 0 until their currency has a rate.
            "missing": [code for code in in_use if code not in rated],
        },
        status=400 if form.errors or rates.errors or rates.non_form_errors() else 200,
    )
