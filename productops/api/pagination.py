"""Pagination: page numbers by default, cursors for append-only streams.

A bad page number, page size or cursor is a 400 with the standard error body.
"""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


def _is_integer(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


class _StrictPageSize:
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (_is_integer(raw) and int(raw) > 0):
            raise ValidationError({"page_size": ["Must be a positive integer."]})
        return super().get_page_size(request)


MAX_PAGE = 10**9


class PageNumberPagination(_StrictPageSize, pagination.PageNumberPagination):
    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        # Present means meant: `?page=` or `?page=1.5` is an error, not the first page.
        if raw is not None and raw != "last" and not (_is_integer(raw) and 0 < int(raw) <= MAX_PAGE):
            raise ValidationError({"page": ["Must be a page number from 1."]}, code="invalid_page")
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ValidationError({"page": ["Invalid page."]}, code="invalid_page") from None


class CursorPagination(_StrictPageSize, pagination.CursorPagination):
    ordering = "-id"
    page_size = 50

    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            raise ValidationError({"cursor": ["Invalid cursor."]}, code="invalid_cursor")
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            invalid = True
        else:
            # DRF validates the offset and direction, not the position itself.
            invalid = cursor is not None and cursor.position is not None and not _is_integer(cursor.position)
        if invalid:
            raise ValidationError({"cursor": ["Invalid cursor."]}, code="invalid_cursor")
        return cursor
