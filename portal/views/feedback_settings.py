"""The feedback settings page (``/w/<slug>/settings/feedback/``): whether duplicates and
features are suggested by meaning (the offline embedding model) as well as by shared words.

Every member sees the setting; admins change it (``feedback.services.feedback_settings_update``,
the service ``PATCH /api/v1/workspaces/{slug}/feedback-settings/`` calls). Beside it, the
suggestion quality report (``feedback.quality_selectors``): per reason, what was suggested
and what the team dismissed, and the "wrong theme" dismissals.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from feedback import services
from feedback.quality_selectors import suggestion_quality
from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.feedback import FeedbackSettingsForm
from productops.errors import DomainError
from productops.models import Role


@require_http_methods(["GET", "POST"])
@workspace_page()
def feedback_settings(request: HttpRequest) -> HttpResponse:
    """See whether suggestions are made by meaning; an admin turns it on or off."""
    row = services.feedback_settings_get(workspace=request.workspace)
    form = FeedbackSettingsForm(initial={"semantic_suggestions": row.semantic_suggestions})
    if request.method == "POST":
        require_role(request, Role.ADMIN)
        form = FeedbackSettingsForm(request.POST)
        if form.is_valid():
            semantic = form.cleaned_data["semantic_suggestions"]
            try:
                services.feedback_settings_update(
                    workspace=request.workspace, actor=request.user, semantic_suggestions=semantic
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Suggestions by meaning turned {'on' if semantic else 'off'}.")
                return redirect("portal:settings-feedback", request.workspace.slug)
    return render(
        request,
        "portal/settings/feedback.html",
        {
            "form": form,
            "settings_row": row,
            "can_edit": has_role(request.membership, Role.ADMIN),
            "quality": suggestion_quality(workspace_id=request.workspace.pk),
        },
        status=400 if form.errors else 200,
    )
