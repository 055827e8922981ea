"""JSON parser with a hard body-size limit (DRF reads the stream unbounded)."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class RequestTooLarge(ParseError):
    default_detail = "Request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and str(length).isdigit() and int(length) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        # Read one byte past the limit to catch bodies without a Content-Length.
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"Request body is larger than {limit} bytes.")
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
