"""Contact pages: the people who give feedback and vote, one contact with their feedback and
votes, and the create, edit and delete forms.

Creating and editing need the contributor role and deleting product manager, as the API's
(``feedback.services.contact_create`` / ``contact_update`` / ``contact_delete``). Each form is a
plain POST that redirects on success and re-renders with inline errors (400) otherwise; a refused
delete is shown as a message and writes nothing. Whether a contact unsubscribed is their own
choice (the board's e-mail preferences): shown here, not edited.
"""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from feedback import selectors, services
from feedback.models import Contact
from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.feedback import ContactFilterForm, ContactForm
from productops.errors import DomainError
from productops.models import Role

PAGE_SIZE = 25
FEEDBACK_PAGE_SIZE = 25


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    return get_object_or_404(selectors.contact_list(workspace=request.workspace), pk=contact_id)


@workspace_page()
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET or None)
    form.is_valid()  # an invalid search is shown and left out
    filters = form.filters()
    contacts = selectors.contact_directory(workspace=request.workspace, **filters)
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/contacts/list.html",
        {"form": form, "page": page, "rows": list(page.object_list), "filtered": bool(filters["query"])},
    )


@workspace_page()
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    feedback_page = Paginator(selectors.contact_feedback(contact=contact), FEEDBACK_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/contacts/detail.html",
        {
            "contact": contact,
            "page": feedback_page,
            "feedback": list(feedback_page.object_list),
            "votes": list(selectors.contact_votes(contact=contact)),
        },
    )


def _form_page(
    request: HttpRequest, form: ContactForm, contact: Contact | None, status: int = 200
) -> HttpResponse:
    return render(request, "portal/contacts/form.html", {"form": form, "contact": contact}, status=status)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def contact_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    company_id = request.GET.get("company", "")
    if request.method == "GET" and company_id.isdigit() and len(company_id) <= 18:
        # "Add a contact" from a company's page: that company, as its picker value.
        company = selectors.company_list(workspace=request.workspace).filter(pk=company_id).first()
        initial["company"] = company
    form = ContactForm(request.POST or None, workspace=request.workspace, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                workspace=request.workspace, actor=request.user, data=form.contact_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Contact {contact.email} created.")
            return redirect("portal:contact", request.workspace.slug, contact.pk)
    return _form_page(request, form, None, status=400 if form.errors else 200)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact(request, contact_id)
    stored = copy.copy(contact)
    form = ContactForm(request.POST or None, workspace=request.workspace, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_update(contact=contact, actor=request.user, data=form.contact_data())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Contact {contact.email} saved.")
            return redirect("portal:contact", request.workspace.slug, contact.pk)
    if form.errors:
        contact = stored  # as stored, for the heading (a refused update may have changed the instance)
    return _form_page(request, form, contact, status=400 if form.errors else 200)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    """GET: what deleting keeps and loses; POST: delete (product manager), back to the list."""
    require_role(request, Role.PRODUCT_MANAGER)
    contact = _contact(request, contact_id)
    if request.method == "GET":
        context = {"contact": contact, "votes": selectors.contact_votes(contact=contact).count()}
        return render(request, "portal/contacts/delete.html", context)
    email = contact.email
    try:
        services.contact_delete(contact=contact, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"{email} was not deleted: {exc.detail}")
        return redirect("portal:contact", request.workspace.slug, contact_id)
    messages.success(request, f"Contact {email} deleted, with their votes. Their feedback stays.")
    return redirect("portal:contacts", request.workspace.slug)
