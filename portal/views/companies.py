"""Company pages: the customer directory, one company with its people, requests and votes,
and its create, edit and delete forms.

Creating and editing need the contributor role, as the API's; the account owners and deleting
need product manager (``company_account_owners_set``, ``company_delete``). Each form is a plain
POST that redirects on success and re-renders with inline errors (400) otherwise; a refused
delete is shown as a message and writes nothing.
"""

from __future__ import annotations

import copy
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from feedback import selectors, services
from feedback.models import Company
from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.feedback import CompanyFilterForm, CompanyForm
from productops.errors import DomainError
from productops.models import Role

PAGE_SIZE = 25
FEEDBACK_PAGE_SIZE = 25
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_money(amount: Decimal, currency: str) -> str:
    """``$120,000``, ``€9,500.50``, ``CHF 1,200``: grouped, cents only when there are any."""
    amount = Decimal(amount or 0)
    number = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
    return f"{symbol}{number}" if symbol else f"{(currency or '').upper()} {number}".strip()


@workspace_page()
@require_GET
def company_list(request: HttpRequest) -> HttpResponse:
    form = CompanyFilterForm(request.GET or None)
    form.is_valid()  # an invalid filter is shown and left out
    filters = form.filters()
    companies = selectors.company_directory(workspace=request.workspace, **filters)
    page = Paginator(companies, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    for company in rows:
        company.arr_display = format_money(company.arr, company.arr_currency)
    return render(
        request,
        "portal/companies/list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "sort": filters["sort"],
            # A column heading sorts by it; again, the other way round.
            "next_sort": {
                "name": "-name" if filters["sort"] == "name" else "name",
                "arr": "arr" if filters["sort"] == "-arr" else "-arr",
                "feedback": "feedback" if filters["sort"] == "-feedback" else "-feedback",
            },
            "filtered": any(filters[key] for key in ("query", "segment", "lifecycle_stage")),
        },
    )


@workspace_page()
@require_GET
def company_detail(request: HttpRequest, company_id: int) -> HttpResponse:
    company = get_object_or_404(selectors.company_list(workspace=request.workspace), pk=company_id)
    company.arr_display = format_money(company.arr, company.arr_currency)
    feedback_page = Paginator(selectors.company_feedback(company=company), FEEDBACK_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "portal/companies/detail.html",
        {
            "company": company,
            "contacts": list(selectors.company_contacts(company=company)),
            "page": feedback_page,
            "feedback": list(feedback_page.object_list),
            "votes": list(selectors.company_votes(company=company)),
            "owners": list(selectors.company_account_owners(company=company)),
        },
    )


def _company(request: HttpRequest, company_id: int) -> Company:
    return get_object_or_404(selectors.company_list(workspace=request.workspace), pk=company_id)


def _save(request: HttpRequest, form: CompanyForm, company: Company | None) -> Company:
    """Create or update, then set the account owners if the form has them: all or nothing."""
    return services.company_save(
        workspace=request.workspace,
        company=company,
        actor=request.user,
        data=form.company_data(),
        owners=form.owners(),
    )


def _form_page(
    request: HttpRequest, form: CompanyForm, company: Company | None, status: int = 200
) -> HttpResponse:
    return render(request, "portal/companies/form.html", {"form": form, "company": company}, status=status)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def company_new(request: HttpRequest) -> HttpResponse:
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    form = CompanyForm(request.POST or None, workspace=request.workspace, can_manage=can_manage)
    if request.method == "POST" and form.is_valid():
        try:
            company = _save(request, form, None)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Company “{company.name}” created.")
            return redirect("portal:company", request.workspace.slug, company.pk)
    return _form_page(request, form, None, status=400 if form.errors else 200)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _company(request, company_id)
    stored = copy.copy(company)
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    owners = list(selectors.company_account_owners(company=company)) if can_manage else None
    form = CompanyForm(
        request.POST or None,
        workspace=request.workspace,
        company=company,
        owners=owners,
        can_manage=can_manage,
    )
    if request.method == "POST" and form.is_valid():
        try:
            company = _save(request, form, company)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Company “{company.name}” saved.")
            return redirect("portal:company", request.workspace.slug, company.pk)
    if form.errors:
        company = stored  # as stored, for the heading (a refused update may have changed the instance)
    return _form_page(request, form, company, status=400 if form.errors else 200)


@workspace_page(Role.CONTRIBUTOR)
@require_http_methods(["GET", "POST"])
def company_delete(request: HttpRequest, company_id: int) -> HttpResponse:
    """GET: what deleting keeps and loses; POST: delete (product manager), back to the list."""
    require_role(request, Role.PRODUCT_MANAGER)
    company = _company(request, company_id)
    if request.method == "GET":
        return render(request, "portal/companies/delete.html", {"company": company})
    name = company.name
    try:
        services.company_delete(company=company, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"“{name}” was not deleted: {exc.detail}")
        return redirect("portal:company", request.workspace.slug, company_id)
    messages.success(request, f"Company “{name}” deleted. Its feedback and contacts stay, without a company.")
    return redirect("portal:companies", request.workspace.slug)
