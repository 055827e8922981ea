"""The OpenAPI schema tells the whole truth: every operation's errors in the one error body,
strict request bodies, a tag and a summary per operation, nothing an enum cannot hold."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
ERROR = {"$ref": "#/components/schemas/Error"}
# Operations that can refuse a change in the current state (their service raises Conflict).
CONFLICTS = {
    ("patch", "/api/v1/workspaces/{workspace_slug}/members/{id}/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/members/{id}/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/invitations/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/invitations/{id}/revoke/"),
    ("post", "/api/v1/invitations/accept/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/products/{id}/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/features/{id}/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/features/{id}/status/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/features/{id}/merge/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/features/{feature_id}/comments/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback/{id}/state/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback/bulk-state/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback/{id}/merge/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback/{id}/links/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/votes/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback-themes/{id}/create-feature/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/feedback-themes/{id}/link-feature/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/releases/{id}/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/releases/{id}/status/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/releases/{id}/ship/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/releases/{id}/cancel/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/scope-items/"),
    ("patch", "/api/v1/workspaces/{workspace_slug}/scope-items/{id}/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/scope-items/{id}/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/scope-items/{id}/move/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/checklist-tasks/"),
    ("delete", "/api/v1/workspaces/{workspace_slug}/checklist-tasks/{id}/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/deliveries/{id}/retry/"),
    ("post", "/api/v1/workspaces/{workspace_slug}/webhook-endpoints/{id}/send-test/"),
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_operation_declares_its_errors_with_the_one_error_body(schema):
    operations = list(_operations(schema))
    assert len(operations) > 120
    for path, method, operation in operations:
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        for status in ("400", "401", "429", "500"):
            assert responses[status]["content"]["application/json"]["schema"] == ERROR, where
        assert "Retry-After" in responses["429"]["headers"], where
        anonymous = path == "/api/v1/inbound/{public_id}/" or (method, path) == ("get", "/api/v1/workspaces/")
        assert ("403" in responses) is not anonymous, where
        assert ("404" in responses) is ("{" in path), where
        assert ("409" in responses) is ((method, path) in CONFLICTS), where
        if "requestBody" in operation:
            assert "415" in responses, where
        if method == "get":
            assert "304" in responses, where
            assert any(p["name"] == "If-None-Match" for p in operation["parameters"]), where


def test_the_error_body_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["errors", "request_id", "type"]
    assert error["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/ErrorItem"}
    item = schema["components"]["schemas"]["ErrorItem"]
    assert item["properties"]["attr"]["nullable"] is True


def test_every_operation_has_one_tag_and_a_summary(schema):
    tags = set()
    for path, method, operation in _operations(schema):
        assert len(operation["tags"]) == 1, f"{method} {path}"
        assert operation.get("summary"), f"{method} {path}"
        tags.add(operation["tags"][0])
    assert {"features", "feedback", "companies", "contacts", "votes", "feedback-links", "members"} <= tags
    assert "workspaces" in tags


def test_request_bodies_refuse_unknown_fields(schema):
    components = schema["components"]["schemas"]
    strict = [
        name for name, component in components.items() if component.get("additionalProperties") is False
    ]
    for name in (
        "FeatureInputRequest",
        "PatchedFeatureInputRequest",
        "CompanyInputRequest",
        "VoteInputRequest",
    ):
        assert name in strict


def test_unset_enums_and_uris_are_null_not_blank(schema):
    components = schema["components"]["schemas"]
    assert "BlankEnum" not in components
    assert components["FeatureOutput"]["properties"]["horizon"]["nullable"] is True
    assert components["CompanyOutput"]["properties"]["segment"]["nullable"] is True
    assert components["FeedbackItemOutput"]["properties"]["source_url"] == {
        "type": "string",
        "format": "uri",
        "nullable": True,
        "readOnly": True,
    }


def test_decimals_are_strings_with_a_decimal_format(schema):
    components = schema["components"]["schemas"]
    for component, field in (
        ("CompanyOutput", "arr"),
        ("FeatureOutput", "effort"),
        ("ScorecardCriterionOutput", "weight"),
        ("KeyResultOutput", "current"),
    ):
        prop = components[component]["properties"][field]
        assert (prop["type"], prop["format"]) == ("string", "decimal"), (component, field)


def test_the_inbound_email_endpoint_takes_a_raw_message(schema):
    body = schema["paths"]["/api/v1/workspaces/{workspace_slug}/feedback/inbound-email/"]["post"][
        "requestBody"
    ]
    assert body["content"]["message/rfc822"]["schema"] == {"type": "string", "format": "binary"}


def _json_schema(node):
    """OpenAPI 3.0's ``nullable`` spelled as JSON Schema, so a validator can read it."""
    if isinstance(node, list):
        return [_json_schema(child) for child in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _examples(schema):
    """(operation, where, example name, value, body schema) of every example in the schema."""
    for path, method, operation in _operations(schema):
        label = f"{method.upper()} {path}"
        bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
        bodies += [
            (f"response {code}", response.get("content", {}))
            for code, response in operation["responses"].items()
        ]
        for where, content in bodies:
            media = content.get("application/json", {})
            for name, example in media.get("examples", {}).items():
                yield label, where, name, example["value"], media["schema"]


def test_every_example_is_a_valid_body_of_its_operation(schema):
    import jsonschema

    components = _json_schema(schema["components"])
    found = list(_examples(schema))
    problems = []
    for label, where, name, value, body_schema in found:
        validator = jsonschema.Draft7Validator({**_json_schema(body_schema), "components": components})
        problems += [f"{label} {where} {name}: {error.message}" for error in validator.iter_errors(value)]
        if where.startswith("response") and "$ref" in body_schema:
            component = schema["components"]["schemas"][body_schema["$ref"].rsplit("/", 1)[1]]
            if set(value) != set(component["properties"]):
                problems.append(f"{label} {where} {name}: keys differ from {body_schema['$ref']}")
    # Product, feature, release, company, contact, feedback, vote, stakeholder, subscription and
    # webhook endpoint: a request and a 201 each, and the 200 of feedback and votes already stored.
    assert len({(label, where) for label, where, *_ in found}) == 22
    assert problems == []
