"""Products: the list (the "Plan" area's first page, with the first steps of an empty
workspace), a product's page with its edit form, create and delete. See ``portal.views.planning``
for the rules all planning pages follow."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.planning import ProductForm
from portal.views.planning import delete_or_explain, get_one, paginate
from productops.errors import DomainError
from productops.models import Role
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Product


def _product(request: HttpRequest, product_id: int) -> Product:
    return get_one(roadmap_selectors.product_list(workspace=request.workspace), product_id, "Product")


@require_http_methods(["GET"])
@workspace_page()
def product_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, roadmap_selectors.product_list(workspace=request.workspace))
    progress = roadmap_selectors.planning_progress(workspace=request.workspace)
    return render(
        request,
        "portal/planning/products.html",
        {
            "page": page,
            "rows": list(page.object_list),
            "progress": progress,
            "started": all(progress.values()),
        },
    )


@require_http_methods(["GET", "POST"])
@workspace_page()
def product_new(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    form = ProductForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            product = roadmap_services.product_create(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Product “{product.name}” created. Next: the goals it serves.")
            return redirect("portal:plan-products", request.workspace.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/planning/product_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@workspace_page()
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    """The product (everyone); its edit form (product managers, as the API)."""
    product = _product(request, product_id)
    if request.method == "POST":
        require_role(request, Role.PRODUCT_MANAGER)
        form = ProductForm(request.POST, product=product)
        if form.is_valid():
            try:
                product = roadmap_services.product_update(
                    product=product, actor=request.user, data=form.cleaned_data
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Product “{product.name}” saved.")
                return redirect("portal:plan-product", request.workspace.slug, product.pk)
        status = 400
    else:
        form = ProductForm(product=product)
        status = 200
    goals = list(
        roadmap_selectors.goal_list(workspace=request.workspace)
        .filter(product=product)
        .select_related(None)
        .prefetch_related(None)
        .only("title", "period")
    )
    return render(
        request,
        "portal/planning/product_form.html",
        {"form": form, "product": product, "goals": goals},
        status=status,
    )


@require_POST
@workspace_page()
def product_delete(request: HttpRequest, product_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    product = _product(request, product_id)
    deleted = delete_or_explain(
        request,
        lambda: roadmap_services.product_delete(product=product, actor=request.user),
        f"Product “{product.name}” deleted.",
    )
    if deleted:
        return redirect("portal:plan-products", request.workspace.slug)
    return redirect("portal:plan-product", request.workspace.slug, product.pk)
