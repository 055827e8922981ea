"""The OpenAPI schema tells the whole truth: every error an operation can answer, one error
body, strict request bodies, a tag per resource and a summary per operation.

``AutoSchema`` (the project's ``DEFAULT_SCHEMA_CLASS``) adds to each operation:

* ``400`` (validation, unknown query parameters), ``401``, ``429`` (with ``Retry-After``),
  ``500`` and ``503`` (the database is unavailable, with ``Retry-After``), always;
  ``403`` unless the operation is open to anyone; ``404`` where the path names an object
  (or a workspace); ``409`` where the service can refuse the
  operation's change in the current state (the view's ``conflict_actions``); ``415``
  where there is a request body; ``304`` (with ``If-None-Match``) on reads;
* ``additionalProperties: false`` on request bodies of ``StrictSerializer``s, which
  refuse unknown fields;
* a ``summary``: the docstring's first sentence, or a verb and the resource.

Every error status uses the one ``Error`` component (``productops.api.exceptions``).
"""

from __future__ import annotations

import re

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import permissions, serializers

from productops.api import fields  # also registers the nullable-field schema extensions


@extend_schema_serializer(component_name="ErrorDependant")
class ErrorDependantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


@extend_schema_serializer(component_name="ErrorItem")
class ErrorItemOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. required, unique, out_of_range.")
    detail = serializers.CharField(help_text="For people.")
    attr = serializers.CharField(allow_null=True, help_text="The field or parameter at fault, or null.")
    # The keys some errors add (see ``DomainError.extra`` in the services), declared so a
    # generated client reads them as fields.
    merged_into = serializers.IntegerField(
        required=False, help_text="Code feature_merged: the id of the feature to use instead."
    )
    dependants = ErrorDependantOutput(
        many=True, required=False, help_text="Code has_dependants: the features that depend on it."
    )
    features = ErrorDependantOutput(
        many=True,
        required=False,
        help_text="Codes must_haves_unfinished and dependencies_unshipped (shipping a release): "
        "the features that block it.",
    )
    item_id = serializers.IntegerField(
        required=False,
        help_text="A bulk edit refused as a whole: the id of the item this error is about "
        "(one error per refused item; nothing was written).",
    )


@extend_schema_serializer(component_name="Error")
class ErrorOutput(serializers.Serializer):
    """The one error body of the API."""

    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    errors = ErrorItemOutput(many=True)
    request_id = serializers.CharField(help_text="The request's X-Request-ID, for support.")


ERROR_DESCRIPTIONS = {
    "304": "Not modified: the If-None-Match ETag is still current (no body).",
    "400": "Invalid input: field errors, or an unknown or invalid query parameter.",
    "401": "Not authenticated.",
    "403": "The role or the token's scope does not allow this.",
    "404": "No such object here (another workspace's objects are not found either).",
    "409": "The current state refuses the change (code says why).",
    "415": "Unsupported Content-Type.",
    "429": "Too many requests; retry after Retry-After seconds.",
    "500": "A server error; it was logged under request_id.",
    "503": "The database is unavailable or too slow right now (code database_unavailable); "
    "retry after Retry-After seconds.",
}
#: The statuses that carry a Retry-After header.
RETRY_AFTER = {"429", "503"}
WRITE_METHODS = {"POST", "PUT", "PATCH"}


def _singular(resource: str) -> str:
    """The resource's noun for one row: "team capacities" → "team capacity"."""
    special = {
        "feedback": "feedback item",
        "scorecard criteria": "scorecard criterion",
        "checklist template": "checklist template item",
    }
    if resource in special:
        return special[resource]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource[:-1] if resource.endswith("s") else resource


def _is_anonymous(view) -> bool:
    return any(isinstance(p, permissions.AllowAny) for p in view.get_permissions())


class AutoSchema(openapi.AutoSchema):
    def _action(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    def _error_statuses(self) -> list[str]:
        view = self.view
        action = self._action()
        statuses = ["400", "401", "429", "500", "503"]
        if not _is_anonymous(view) and action not in getattr(view, "never_forbidden_actions", set()):
            statuses.append("403")
        if "{" in self.path:
            statuses.append("404")
        if action in getattr(view, "conflict_actions", set()):
            statuses.append("409")
        if self.method in WRITE_METHODS and self._get_request_body():
            statuses.append("415")
        if self.method == "GET":
            statuses.append("304")
        return sorted(statuses)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_statuses():
            if code in responses:
                continue
            if code == "304":
                responses[code] = {"description": ERROR_DESCRIPTIONS[code]}
                continue
            responses[code] = self._get_response_for_code(
                OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[code]), code, direction=direction
            )
            if code in RETRY_AFTER:
                responses[code]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
                }
        return responses

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "GET":
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="An ETag from an earlier answer: 304 if it is still current.",
                )
            )
        return parameters

    def _insert_field_validators(self, field, schema):
        # An unset optional enum or URI is null, never "" (a deprecated alias requests may
        # still send): no blank alternative in the schema.
        if isinstance(field, fields.BlankAsNullURLField | fields.BlankAsNullChoiceField):
            field.allow_blank = False
            try:
                super()._insert_field_validators(field, schema)
            finally:
                field.allow_blank = True
            return
        super()._insert_field_validators(field, schema)

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        # Imported here: the base module's decorators load this schema class while it loads.
        from productops.api.base import StrictSerializer

        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(serializer, StrictSerializer)
            and schema.get("type") == "object"
        ):
            schema["additionalProperties"] = False
        return schema

    def get_tags(self) -> list[str]:
        """The resource: the first path part after ``/api/v1/`` and the workspace."""
        rest = re.sub(r"^/api/v1/", "", self.path)
        rest = re.sub(r"^workspaces/\{workspace_slug\}/", "", rest)
        first = rest.split("/")[0]
        return ["workspaces" if not first or first.startswith("{") else first]

    def get_summary(self) -> str:
        description = self.get_description() or ""
        action = self._action()
        action_doc = getattr(getattr(self.view, action, None), "__doc__", None)
        if action_doc and action not in {"list", "retrieve", "create", "partial_update", "update", "destroy"}:
            first = re.split(r"(?<=[.:;])\s", " ".join(action_doc.split()), maxsplit=1)[0].rstrip(".:;")
            if first:
                return first[:120]
        resource = (self.get_tags() or ["resource"])[0].replace("-", " ")
        one = _singular(resource)
        verbs = {
            "list": f"List {resource}",
            "retrieve": f"Read a {one}",
            "create": f"Create a {one}",
            "partial_update": f"Update a {one}",
            "update": f"Replace a {one}",
            "destroy": f"Delete a {one}",
        }
        if action in verbs:
            return verbs[action]
        if description:
            return re.split(r"(?<=[.:;])\s", " ".join(description.split()), maxsplit=1)[0].rstrip(".:;")[:120]
        return f"{self.method.title()} {resource}"
