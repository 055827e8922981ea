"""Pagination: page numbers by default, cursors for append-only streams.

A bad page number, page size or cursor is a 400 with the standard error body.
"""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class _StrictPageSize:
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isdigit() and int(raw) > 0):
            raise ValidationError({"page_size": ["Must be a positive integer."]})
        return super().get_page_size(request)


class PageNumberPagination(_StrictPageSize, pagination.PageNumberPagination):
    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ValidationError({"page": ["Invalid page."]}, code="invalid_page") from None


class CursorPagination(_StrictPageSize, pagination.CursorPagination):
    ordering = "-id"
    page_size = 50

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor."]}, code="invalid_cursor") from None
