"""301 answers for merged objects: a merged feature or feedback item redirects to its survivor."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


class MergedRedirectOutput(serializers.Serializer):
    merged_into = serializers.IntegerField(help_text="The surviving object's id; ``Location`` is its URL.")


MERGED_REDIRECT_RESPONSE = OpenApiResponse(
    MergedRedirectOutput,
    description="Merged into another object: ``Location`` is the survivor's URL (follow it).",
)


def merged_redirect(request: Request, *, route: str, workspace_slug: str, target_id: int) -> Response:
    """A 301 to ``route``'s detail URL for ``target_id``, with ``{"merged_into": id}`` as body."""
    location = reverse(route, kwargs={"workspace_slug": workspace_slug, "pk": target_id}, request=request)
    return Response(
        {"merged_into": target_id}, status=status.HTTP_301_MOVED_PERMANENTLY, headers={"Location": location}
    )
