"""The portal's front door: straight to the user's workspace, or a form to create one."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.forms import add_domain_error
from productops import selectors, services
from productops.errors import DomainError


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(max_length=120, label="Workspace name")


@login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    workspaces = list(selectors.workspace_list_for_user(user=request.user)[:2])
    form = WorkspaceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(name=form.cleaned_data["name"], owner=request.user)
        except DomainError as exc:
            add_domain_error(form, exc, aliases={"slug": "name"})
        else:
            return redirect("portal:dashboard", workspace.slug)
    if request.method == "GET" and workspaces:
        return redirect("portal:dashboard", workspaces[0].slug)
    return render(request, "portal/home.html", {"form": form}, status=400 if form.errors else 200)
