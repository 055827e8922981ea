"""Company pages: the customer directory, and one company with its people, requests and votes."""

from __future__ import annotations

from decimal import Decimal

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from feedback import selectors
from portal.access import workspace_page
from portal.forms.feedback import CompanyFilterForm

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
        },
    )
