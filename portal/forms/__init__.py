"""Django forms of the portal, one module per area; they validate input, services decide."""

from django import forms

from productops.errors import DomainError


def add_domain_error(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's error on the field it names (``aliases`` maps a service attribute to a
    form field), or above the form."""
    field = (aliases or {}).get(exc.attr or "", exc.attr)
    form.add_error(field if field in form.fields else None, exc.detail)
