"""Request and response examples of the main resources, for the schema's readers.

Each is a valid body of its component (``tests/productops/test_schema.py`` checks them
against the schema), so a generated client's documentation shows working calls.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

STAMP = "2027-01-04T09:30:00Z"

PRODUCT_REQUEST = OpenApiExample(
    "A product",
    value={"name": "Analytics", "vision": "Every team sees its numbers.", "personas": ["Analyst"]},
    request_only=True,
)
PRODUCT_RESPONSE = OpenApiExample(
    "A product",
    value={
        "id": 7,
        "name": "Analytics",
        "vision": "Every team sees its numbers.",
        "personas": ["Analyst"],
        "version_scheme": "semver",
        "feature_count": 12,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

FEATURE_REQUEST = OpenApiExample(
    "A feature with its RICE inputs",
    value={
        "title": "SAML single sign-on",
        "product": 7,
        "horizon": "next",
        "planned_start": "2027-04-01",
        "target_date": "2027-06-30",
        "effort": "5.00",
        "reach": 1200,
        "impact": "2.00",
        "confidence_pct": 80,
        "tags": ["security"],
    },
    request_only=True,
)
FEATURE_RESPONSE = OpenApiExample(
    "A ranked feature",
    value={
        "id": 42,
        "title": "SAML single sign-on",
        "description": "",
        "public_title": "Single sign-on with SAML",
        "release_note": "Sign in with your company's identity provider.",
        "product": 7,
        "initiative": None,
        "goals": [],
        "status": "planned",
        "status_changed_at": STAMP,
        "horizon": "next",
        "planned_start": "2027-04-01",
        "target_date": "2027-06-30",
        "effort": "5.00",
        "owner": None,
        "team": 3,
        "is_mvp": True,
        "is_public": True,
        "merged_into": None,
        "tags": ["security"],
        "competitors": ["Okta"],
        "depends_on": [],
        "reach": 1200,
        "impact": "2.00",
        "confidence_pct": 80,
        "ice_impact": None,
        "ice_confidence": None,
        "ice_ease": None,
        "business_value": None,
        "time_criticality": None,
        "risk_reduction": None,
        "job_size": None,
        "value": None,
        "score_rice": 384.0,
        "score_ice": None,
        "score_wsjf": None,
        "score_value_effort": None,
        "score_customer_impact": 31.5,
        "requesting_companies": 9,
        "arr_at_stake": 1_720_000.0,
        "critical_requests": 2,
        "score_scorecard": None,
        "priority_score": 384.0,
        "priority_rank": 1,
        "score_state": "clean",
        "scores_computed_at": STAMP,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

RELEASE_REQUEST = OpenApiExample(
    "A planned release",
    value={
        "product": 7,
        "name": "Spring release",
        "version": "2.4.0",
        "planned_date": "2027-04-15",
        "owner": 3,
        "summary": "Single sign-on and faster dashboards.",
        "is_public": True,
    },
    request_only=True,
)
RELEASE_RESPONSE = OpenApiExample(
    "A planned release with its readiness",
    value={
        "id": 12,
        "public_id": "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",
        "product": 7,
        "name": "Spring release",
        "version": "2.4.0",
        "status": "planned",
        "status_changed_at": STAMP,
        "planned_date": "2027-04-15",
        "shipped_on": None,
        "shipped_at": None,
        "owner": 3,
        "summary": "Single sign-on and faster dashboards.",
        "is_public": True,
        "notes_published_at": None,
        "created_at": STAMP,
        "updated_at": STAMP,
        "is_ready": False,
        "readiness_pct": 40,
        "missing": [
            "Must-have not done: SAML single sign-on",
            "Required task not done: Support team trained",
        ],
        "at_risk": True,
        "risks": ["No effort estimate: SAML single sign-on"],
    },
    response_only=True,
)

COMPANY_REQUEST = OpenApiExample(
    "A customer",
    value={
        "name": "Initech",
        "domain": "initech.example",
        "segment": "enterprise",
        "arr": "120000.00",
        "arr_currency": "USD",
        "crm_external_id": "0015g00000XyZ",
    },
    request_only=True,
)
COMPANY_RESPONSE = OpenApiExample(
    "A customer",
    value={
        "id": 11,
        "name": "Initech",
        "domain": "initech.example",
        "segment": "enterprise",
        "plan": "",
        "arr": "120000.00",
        "arr_currency": "USD",
        "lifecycle_stage": "active",
        "crm_external_id": "0015g00000XyZ",
        "feedback_count": 4,
        "requested_feature_count": 3,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

CONTACT_REQUEST = OpenApiExample(
    "A person",
    value={"email": "ann@initech.example", "name": "Ann Lee", "crm_external_id": "0035g00000AbC"},
    request_only=True,
)
CONTACT_RESPONSE = OpenApiExample(
    "A person",
    value={
        "id": 21,
        "email": "ann@initech.example",
        "name": "Ann Lee",
        "company": 11,
        "crm_external_id": "0035g00000AbC",
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

FEEDBACK_REQUEST = OpenApiExample(
    "Feedback from a sales call",
    value={
        "text": "We need SAML single sign-on before we can roll out to 400 seats.",
        "contact_email": "ann@initech.example",
        "source": "sales_call",
        "source_ref": "call-2027-0104",
        "importance": "critical",
        "deal_value": "48000.00",
        "tags": ["security"],
        "received_at": STAMP,
    },
    request_only=True,
)
FEEDBACK_RESPONSE = OpenApiExample(
    "Feedback from a sales call",
    value={
        "id": 301,
        "text": "We need SAML single sign-on before we can roll out to 400 seats.",
        "contact": 21,
        "company": 11,
        "source": "sales_call",
        "source_ref": "call-2027-0104",
        "source_url": None,
        "kind": "request",
        "importance": "critical",
        "deal_value": "48000.00",
        "tags": ["security"],
        "state": "new",
        "merged_into": None,
        "links": [],
        "received_at": STAMP,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

VOTE_REQUEST = OpenApiExample("A vote", value={"contact": 21, "feature": 42}, request_only=True)
VOTE_RESPONSE = OpenApiExample(
    "A vote",
    value={
        "id": 5,
        "contact": 21,
        "contact_email": "ann@initech.example",
        "feature": 42,
        "created_at": STAMP,
    },
    response_only=True,
)

STAKEHOLDER_REQUEST = OpenApiExample(
    "A member who reads the executive digest",
    value={"kind": "member", "user": 3, "audience": "executive"},
    request_only=True,
)
STAKEHOLDER_RESPONSE = OpenApiExample(
    "A member who reads the executive digest",
    value={
        "id": 8,
        "kind": "member",
        "user": 3,
        "contact": None,
        "name": "Dana Scully",
        "email": "dana@acme.example",
        "audience": "executive",
        "confirmed_at": STAMP,
        "unsubscribed_at": None,
        "subscription_count": 0,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

SUBSCRIPTION_REQUEST = OpenApiExample(
    "A weekly digest of a product, Monday 9:00 in Paris",
    value={
        "stakeholder": 8,
        "follows": {"type": "product", "id": 7},
        "channel": "email",
        "cadence": "weekly",
        "time_zone": "Europe/Paris",
        "local_hour": 9,
        "weekday": 1,
    },
    request_only=True,
)
SUBSCRIPTION_RESPONSE = OpenApiExample(
    "A weekly digest of a product, Monday 9:00 in Paris",
    value={
        "id": 15,
        "stakeholder": 8,
        "follows": {"type": "product", "id": 7, "name": "Analytics"},
        "channel": "email",
        "slack_url": None,
        "cadence": "weekly",
        "time_zone": "Europe/Paris",
        "local_hour": 9,
        "weekday": 1,
        "is_active": True,
        "next_due_at": "2027-01-11T08:00:00Z",
        "digest_through": STAMP,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
    response_only=True,
)

WEBHOOK_ENDPOINT_REQUEST = OpenApiExample(
    "An endpoint for releases and top-10 moves",
    value={
        "name": "Data warehouse",
        "url": "https://hooks.acme.example/productops",
        "event_types": ["release.shipped", "priority.rank_changed"],
        "rank_top_n": 10,
    },
    request_only=True,
)
WEBHOOK_ENDPOINT_RESPONSE = OpenApiExample(
    "A new endpoint with its secret (shown this once)",
    value={
        "id": 4,
        "name": "Data warehouse",
        "url": "https://hooks.acme.example/productops",
        "format": "standard",
        "event_types": ["release.shipped", "priority.rank_changed"],
        "rank_top_n": 10,
        "is_active": True,
        "previous_secret_expires_at": None,
        "created_by": 2,
        "created_at": STAMP,
        "updated_at": STAMP,
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    },
    response_only=True,
)
