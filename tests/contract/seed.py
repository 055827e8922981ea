"""The workspace the contract tests run against, and the ids they aim requests at.

``seed()`` builds a workspace (slug ``contract``) with the same realistic data as
``manage.py seed_demo`` (it reuses the roadmap, feedback and board demo seeders), plus
what those leave out: duplicate suggestions, a merged feature and feedback item,
inbound webhooks, invitations and tokens, and a second workspace. It returns a
:class:`ContractData` with the bearer key of each role and, per kind of row, the ids
that exist, so that :meth:`ContractData.resolve_path_parameters` and
:meth:`ContractData.resolve_fields` can point a generated case's path, query and body
ids at real rows most of the time (deterministically; one in ``RANDOM_ID_ONE_IN`` is
left as generated).

Everything here runs inside the transaction the contract conftest opens, and is rolled
back with it: the run may delete or change anything in the workspace.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from board import demo as board_demo
from comms import services as comms_services
from comms import webhooks as comms_webhooks
from comms.models import Stakeholder, Subscription, Threshold, WebhookEndpoint
from feedback import demo as feedback_demo
from feedback import services as feedback_services
from feedback.channels import webhooks
from feedback.models import (
    Company,
    Contact,
    DuplicateSuggestion,
    FeedbackItem,
    FeedbackLink,
    InboundWebhook,
    Theme,
    Vote,
)
from priority import demo as priority_demo
from productops import services as core_services
from productops.demo import DemoContext
from productops.models import ApiToken, AuditEvent, Event, Invitation, Membership, Role, User
from productops.outbox import services as outbox_services
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason
from releases import services as release_services
from releases.models import (
    ChecklistTask,
    ChecklistTemplateItem,
    Release,
    ScopeItem,
    ScopeState,
    SuccessMetric,
)
from roadmap import demo as roadmap_demo
from roadmap import services as roadmap_services
from roadmap.models import (
    Feature,
    FeatureDependency,
    FeatureStatus,
    Goal,
    Initiative,
    KeyResult,
    Product,
    ScorecardCriterion,
    Team,
    TeamCapacity,
)

WORKSPACE_SLUG = "contract"
OTHER_WORKSPACE_SLUG = "contract-other"
SEED = 2027

# The demo seeders look people up by these keys; the usernames are our own.
PEOPLE = [
    ("demo", "contract_owner", Role.OWNER),
    ("alice", "contract_admin", Role.ADMIN),
    ("priya", "contract_pm", Role.PRODUCT_MANAGER),
    ("carlos", "contract_contributor", Role.CONTRIBUTOR),
    ("vera", "contract_viewer", Role.VIEWER),
]
# The roles the API runs as (see test_schemathesis.py), and the demo key of their user.
ROLE_USERS = {Role.ADMIN: "alice", Role.VIEWER: "vera"}

# One in RANDOM_ID_ONE_IN generated ids is sent as generated (almost always a 404);
# the others are replaced by the id of an existing row of the right kind.
RANDOM_ID_ONE_IN = 5

# `/{collection}/{id}/...`: which rows an `id` right after the collection names.
COLLECTION_KINDS = {
    "members": "membership",
    "invitations": "invitation",
    "tokens": "token",
    "audit-events": "audit_event",
    "companies": "company",
    "contacts": "contact",
    "features": "feature",
    "feedback": "feedback_item",
    "feedback-themes": "theme",
    "goals": "goal",
    "inbound-webhooks": "inbound_webhook",
    "initiatives": "initiative",
    "key-results": "key_result",
    "products": "product",
    "releases": "release",
    "scope-items": "scope_item",
    "checklist-tasks": "checklist_task",
    "checklist-template": "checklist_template_item",
    "success-metrics": "success_metric",
    "scorecard-criteria": "scorecard_criterion",
    "team-capacities": "team_capacity",
    "teams": "team",
    "votes": "vote",
    "stakeholders": "stakeholder",
    "subscriptions": "subscription",
    "webhook-endpoints": "webhook_endpoint",
    "thresholds": "threshold",
    "deliveries": "delivery",
}
ID_PARAMETERS = ("id", "depends_on_id", "feature_id", "suggestion_id")
# Ids in query strings (filters) and JSON bodies, by field name → kind of row
# (`into` depends on the path: a feature's merge or a feedback item's).
FIELD_KINDS = {
    "actor": "user",
    "capacity": "team_capacity",
    "company": "company",
    "contact": "contact",
    "depends_on": "feature",
    "feature": "feature",
    "goal": "goal",
    "goals": "goal",
    "ids": "feedback_item",
    "initiative": "initiative",
    "owner": "user",
    "default_owner": "user",
    "key_result": "key_result",
    "move_unfinished_to": "release",
    "parent": "goal",
    "product": "product",
    "release": "release",
    "team": "team",
    "user": "user",
    "stakeholder": "stakeholder",
    "event": "event",
}
# ``follows.type`` of a subscription body → the kind of row its ``id`` names.
FOLLOWS_KINDS = {
    "product": "product",
    "goal": "goal",
    "initiative": "initiative",
    "feature": "feature",
    "release": "release",
}
# Path templates whose two ids must name a pair of related rows: (first, second) → kind of pair.
PAIRED_PATHS = {
    ("id", "depends_on_id"): "dependency",
    ("id", "feature_id"): "feedback_link",
    ("id", "suggestion_id"): "duplicate_suggestion",
}


@dataclass
class ContractData:
    workspace_slug: str
    keys: dict[str, str]  # role → bearer key (scopes read and write)
    ids: dict[str, list[int]]  # kind → existing ids, in id order
    pairs: dict[str, list[tuple[int, int]]]  # kind of pair → (first id, second id)
    public_ids: list[str] = field(default_factory=list)  # inbound webhooks

    def resolve_path_parameters(self, path: str, path_parameters: dict[str, Any]) -> dict[str, Any]:
        """Aim generated path parameters at seeded rows, deterministically.

        ``workspace_slug`` is always the seeded workspace. Integer ids are replaced by an
        existing row of the kind the path names, except one in ``RANDOM_ID_ONE_IN``
        (picked by a CRC of the generated value, so the same case always maps the same
        way). Values of the wrong type (negative cases) are left alone.
        """
        params = dict(path_parameters)
        if "workspace_slug" in params:
            params["workspace_slug"] = self.workspace_slug
        if "public_id" in params and self.public_ids:
            params["public_id"] = _aim(params["public_id"], params["public_id"], self.public_ids)
        names = tuple(name for name in ID_PARAMETERS if name in params)
        if not all(_is_int(params[name]) for name in names):
            return params
        pair_kind = PAIRED_PATHS.get(names)
        if pair_kind is not None:
            pair = tuple(params[name] for name in names)
            params.update(zip(names, _aim(pair, pair, self.pairs.get(pair_kind) or [pair]), strict=True))
            return params
        for name in names:
            kind = "feature" if name in ("depends_on_id", "feature_id") else _kind_of_id(path)
            candidates = self.ids.get(kind or "")
            if candidates:
                params[name] = _aim(params[name], params[name], candidates)
        return params

    def resolve_fields(self, path: str, values: Any) -> Any:
        """Aim ids in a query or JSON body (see ``FIELD_KINDS``) at seeded rows, like path ids."""
        if not isinstance(values, dict):
            return values
        resolved = dict(values)
        for name, value in values.items():
            kind = FIELD_KINDS.get(name)
            if name == "into":
                kind = "feedback_item" if "/feedback/" in path else "feature"
            if name == "item" and "/feedback-themes/" in path:  # "wrong theme": a feedback item
                kind = "feedback_item"
            candidates = self.ids.get(kind or "", [])
            if not candidates:
                continue
            if _is_int(value):
                resolved[name] = _aim((name, value), value, candidates)
            elif isinstance(value, list) and value and all(_is_int(item) for item in value):
                resolved[name] = [_aim((name, item), item, candidates) for item in value]
        follows = values.get("follows")
        if isinstance(follows, dict) and _is_int(follows.get("id")) and isinstance(follows.get("type"), str):
            # A subscription's target: an id of the kind its type names.
            candidates = self.ids.get(FOLLOWS_KINDS.get(follows.get("type"), ""), [])
            if candidates:
                resolved["follows"] = {
                    **follows,
                    "id": _aim(("follows", follows["id"]), follows["id"], candidates),
                }
        return resolved

    def names_seeded_rows(self, path: str, path_parameters: dict[str, Any]) -> bool:
        """Whether every id in the path names a seeded row (or pair of rows) of its kind."""
        names = tuple(name for name in ID_PARAMETERS if name in path_parameters)
        pair_kind = PAIRED_PATHS.get(names) if len(names) == 2 else None
        if pair_kind is not None:
            pair = tuple(path_parameters[name] for name in names)
            return pair in self.pairs.get(pair_kind, [])
        for name in names:
            kind = "feature" if name in ("depends_on_id", "feature_id") else _kind_of_id(path)
            if path_parameters[name] not in self.ids.get(kind or "", []):
                return False
        return path_parameters.get("public_id", self.public_ids[0]) in self.public_ids


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pick(value: Any, count: int) -> int | None:
    """Index into ``count`` candidates for a generated ``value``, or None: keep it as generated."""
    digest = zlib.crc32(repr(value).encode())
    if digest % RANDOM_ID_ONE_IN == 0:
        return None
    return (digest // RANDOM_ID_ONE_IN) % count


def _aim(key: Any, value: Any, candidates: list[Any]) -> Any:
    choice = _pick(key, len(candidates))
    return value if choice is None else candidates[choice]


def _kind_of_id(path: str) -> str | None:
    match = re.search(r"/([a-z-]+)/\{id\}/", path)
    return COLLECTION_KINDS.get(match.group(1)) if match else None


def _seed_releases(workspace: Any, pm: User) -> None:
    """Releases of the first product with their scope, launch checklists (the default
    template) and metrics: a planned one (must-haves done and to do, a nice-to-have in
    progress), a later open one to move scope to, and a shipped one with published notes."""
    product = Product.objects.for_workspace(workspace).order_by("id").first()
    free = list(
        Feature.objects.for_workspace(workspace)
        .filter(product=product, merged_into__isnull=True, dependants__isnull=True, depends_on__isnull=True)
        .exclude(status__in=[FeatureStatus.SHIPPED, FeatureStatus.DECLINED])
        .order_by("id")[:5]
    )
    today = timezone.localdate()

    def release(name: str, version: str, days: int) -> Release:
        return release_services.release_create(
            workspace=workspace,
            actor=pm,
            data={
                "product": product,
                "name": name,
                "version": version,
                "planned_date": today + timedelta(days=days),
                "owner": pm,
                "summary": f"The {name.lower()} release.",
            },
        )

    spring, summer, shipped = (
        release("Spring", "5.0.0", 30),
        release("Summer", "5.1.0", 90),
        release("Hotfix", "4.9.0", 7),
    )
    plan = [
        (spring, True, ScopeState.DONE),
        (spring, True, ScopeState.TODO),
        (spring, False, ScopeState.IN_PROGRESS),
        (summer, True, ScopeState.TODO),
        (shipped, True, ScopeState.DONE),
    ]
    for feature, (target, must_have, state) in zip(free, plan, strict=False):
        release_services.scope_add(
            release=target, feature=feature, actor=pm, data={"is_must_have": must_have, "state": state}
        )
    release_services.release_notes_update(release=spring, actor=pm, notes="## New\n\n- **Faster** dashboards")
    if len(free) == len(plan):
        release_services.release_notes_update(
            release=shipped, actor=pm, notes="## Fixed\n\n- **Exports** no longer time out"
        )
        release_services.release_ship(release=shipped, actor=pm)
    metric = release_services.success_metric_create(
        workspace=workspace,
        actor=pm,
        data={
            "release": spring,
            "name": "Weekly active teams",
            "unit": "teams",
            "baseline": 40,
            "target": 60,
            "review_date": today + timedelta(days=60),
        },
    )
    release_services.metric_actual_record(metric=metric, actor=pm, value=44, note="First week")
    release_services.success_metric_create(
        workspace=workspace,
        actor=pm,
        data={
            "feature": free[0],
            "name": "Dashboard loads under a second",
            "unit": "%",
            "baseline": 50,
            "target": 95,
            "review_date": today,
            "key_result": KeyResult.objects.for_workspace(workspace).order_by("id").first(),
        },
    )


def _seed_comms(workspace: Any, users: dict[str, User]) -> None:
    """Stakeholders of each kind with subscriptions (e-mail and Slack), a webhook endpoint and
    a threshold, and deliveries in every state: sent digests, a suppressed loop notice and a
    failed webhook call (which can be retried)."""
    admin, pm = users["alice"], users["priya"]
    product = Product.objects.for_workspace(workspace).order_by("id").first()
    feature = Feature.objects.for_workspace(workspace).filter(merged_into__isnull=True).order_by("id").first()
    release = Release.objects.for_workspace(workspace).order_by("id").first()
    contact = Contact.objects.for_workspace(workspace).order_by("id").first()
    executive = comms_services.stakeholder_create(
        workspace=workspace, actor=pm, data={"kind": "member", "user": users["demo"], "audience": "executive"}
    )
    sales = comms_services.stakeholder_create(
        workspace=workspace, actor=pm, data={"email": "sales@contract.example", "audience": "sales"}
    )
    customer = comms_services.stakeholder_create(
        workspace=workspace, actor=pm, data={"kind": "contact", "contact": contact, "audience": "customer"}
    )
    weekly = comms_services.subscription_create(
        workspace=workspace,
        actor=pm,
        data={"stakeholder": executive, "target_workspace": workspace, "time_zone": "Europe/Paris"},
    )
    comms_services.subscription_create(
        workspace=workspace,
        actor=pm,
        data={
            "stakeholder": sales,
            "product": product,
            "channel": "slack",
            "slack_url": "https://hooks.slack.com/services/T000/B000/contract",
            "cadence": "daily",
        },
    )
    comms_services.subscription_create(
        workspace=workspace,
        actor=pm,
        data={"stakeholder": customer, "release": release, "cadence": "immediate"},
    )
    comms_services.subscription_create(
        workspace=workspace, actor=pm, data={"stakeholder": executive, "feature": feature, "cadence": "daily"}
    )
    endpoint, _ = comms_webhooks.webhook_endpoint_create(
        workspace=workspace,
        actor=admin,
        data={
            "name": "Warehouse",
            "url": "https://hooks.contract.example/productops",
            "event_types": list(comms_webhooks.EVENT_TYPES),
        },
    )
    comms_webhooks.threshold_create(workspace=workspace, actor=admin, rule="companies >= 3")
    comms_webhooks.threshold_create(workspace=workspace, actor=admin, rule="arr >= 250k")
    test = comms_webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=admin)
    now = timezone.now()
    Delivery.objects.filter(pk=test.pk).update(
        state=DeliveryState.FAILED, attempts=8, last_error="HTTP 503 from the receiver"
    )
    event = Event.objects.filter(workspace=workspace).order_by("id").first()
    for weeks in (1, 2):
        outbox_services.delivery_create(
            workspace=workspace,
            dedupe_key=f"digest:{weekly.pk}:contract-{weeks}:email",
            kind="comms.digest",
            channel="email",
            recipient=executive.email,
            recipient_ref=f"stakeholder:{executive.pk}",
            message=outbox_services.Message(
                subject=f"Your weekly update ({weeks})", text="What changed.", html="<p>What changed.</p>"
            ),
            created_at=now - timedelta(weeks=weeks),
        )
    outbox_services.delivery_create(
        workspace=workspace,
        dedupe_key=f"loop:{contact.pk}:{event.pk if event else 0}",
        kind="comms.loop",
        channel="email",
        recipient=contact.email,
        recipient_ref=f"contact:{contact.pk}",
        event=event,
        suppressed_reason=SuppressedReason.NO_CONSENT,
    )
    Delivery.objects.filter(workspace=workspace, kind="comms.digest").update(
        state=DeliveryState.SENT, sent_at=now
    )


def seed() -> ContractData:
    """Create the contract workspace and everything in it. Call inside a transaction."""
    users: dict[str, User] = {}
    for key, username, _ in PEOPLE:
        users[key] = User.objects.create_user(
            username=username, email=f"{username}@contract.example", password="contract"
        )
    workspace = core_services.workspace_create(name="Contract", slug=WORKSPACE_SLUG, owner=users["demo"])
    for key, _, role in PEOPLE:
        if role != Role.OWNER:
            core_services.membership_add(workspace=workspace, user=users[key], role=role, actor=None)

    # The demo data: products, goals and key results, initiatives, teams and capacities,
    # scorecard criteria, features with dependencies, status history and criterion
    # values; companies, contacts, feedback items with links, votes; the public board.
    context = DemoContext(workspace=workspace, users=users, scale=1)
    rng = random.Random(SEED)
    for module in (roadmap_demo, feedback_demo, board_demo):
        module.seed(context, rng)

    # What the worker would have done: duplicate suggestions for every item.
    for item_id in FeedbackItem.objects.for_workspace(workspace).order_by("id").values_list("id", flat=True):
        feedback_services.duplicates_find(item_id=item_id)

    # A merged feature and a merged feedback item (their detail GET answers 301).
    pm = users["priya"]
    open_features = list(
        Feature.objects.for_workspace(workspace)
        .filter(status=FeatureStatus.IDEA, dependants__isnull=True, depends_on__isnull=True)
        .order_by("id")[:2]
    )
    if len(open_features) == 2:
        roadmap_services.feature_merge(source=open_features[0], target=open_features[1], actor=pm)
    items = list(
        FeedbackItem.objects.for_workspace(workspace).filter(merged_into__isnull=True).order_by("id")[:2]
    )
    if len(items) == 2:
        feedback_services.feedback_items_merge(source=items[1], target=items[0], actor=users["carlos"])

    priority_demo.finish(context)  # score everything, so ranks and snapshots exist
    _seed_releases(workspace, pm)

    # Channels and the core: an inbound webhook, invitations (one pending, one revoked), tokens.
    webhook, _ = webhooks.inbound_webhook_create(
        workspace=workspace, actor=None, provider="generic", name="Relay"
    )
    webhooks.inbound_webhook_create(workspace=workspace, actor=None, provider="slack", name="Slack")
    core_services.invitation_create(
        workspace=workspace, email="new.pm@contract.example", role=Role.PRODUCT_MANAGER, actor=users["alice"]
    )
    revoked = core_services.invitation_create(
        workspace=workspace, email="gone@contract.example", role=Role.VIEWER, actor=users["alice"]
    )
    core_services.invitation_revoke(invitation=revoked, actor=users["alice"])
    keys: dict[str, str] = {}
    for role, user_key in ROLE_USERS.items():
        _, keys[role] = core_services.api_token_create(
            workspace=workspace,
            user=users[user_key],
            name=f"contract {role}",
            scopes=("read", "write"),
            actor=None,
        )
    for user_key in ("demo", "carlos"):
        core_services.api_token_create(
            workspace=workspace, user=users[user_key], name="integration", scopes=("read",), actor=None
        )
    ApiToken.objects.filter(workspace=workspace).update(last_used_at=timezone.now())

    _seed_comms(workspace, users)

    # Another tenant, so cross-workspace leaks would show up in the lists.
    other = core_services.workspace_create(
        name="Contract other", slug=OTHER_WORKSPACE_SLUG, owner=users["demo"]
    )
    Product.objects.create(workspace=other, name="Elsewhere")

    def ids(model: Any) -> list[int]:
        return list(model.objects.for_workspace(workspace).order_by("id").values_list("id", flat=True))

    return ContractData(
        workspace_slug=workspace.slug,
        keys=keys,
        ids={
            "membership": ids(Membership),
            "invitation": ids(Invitation),
            "token": ids(ApiToken),
            "audit_event": ids(AuditEvent),
            "company": ids(Company),
            "contact": ids(Contact),
            "feature": ids(Feature),
            "feedback_item": ids(FeedbackItem),
            "theme": ids(Theme),
            "goal": ids(Goal),
            "inbound_webhook": ids(InboundWebhook),
            "initiative": ids(Initiative),
            "key_result": ids(KeyResult),
            "product": ids(Product),
            "release": ids(Release),
            "scope_item": ids(ScopeItem),
            "checklist_task": ids(ChecklistTask),
            "checklist_template_item": ids(ChecklistTemplateItem),
            "success_metric": ids(SuccessMetric),
            "scorecard_criterion": ids(ScorecardCriterion),
            "team_capacity": ids(TeamCapacity),
            "team": ids(Team),
            "vote": ids(Vote),
            "stakeholder": ids(Stakeholder),
            "subscription": ids(Subscription),
            "webhook_endpoint": ids(WebhookEndpoint),
            "threshold": ids(Threshold),
            "delivery": list(
                Delivery.objects.filter(workspace=workspace).order_by("id").values_list("id", flat=True)
            ),
            "event": list(
                Event.objects.filter(workspace=workspace).order_by("id").values_list("id", flat=True)
            ),
            "user": list(
                Membership.objects.for_workspace(workspace)
                .order_by("user_id")
                .values_list("user_id", flat=True)
            ),
        },
        pairs={
            "dependency": list(
                FeatureDependency.objects.for_workspace(workspace)
                .order_by("id")
                .values_list("feature_id", "depends_on_id")
            ),
            "feedback_link": list(
                FeedbackLink.objects.for_workspace(workspace)
                .order_by("id")
                .values_list("item_id", "feature_id")
            ),
            "duplicate_suggestion": list(
                DuplicateSuggestion.objects.for_workspace(workspace)
                .order_by("id")
                .values_list("item_id", "id")
            ),
        },
        public_ids=[webhook.public_id],
    )
