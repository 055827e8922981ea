"""Demo releases: for the demo roadmap's two products, releases with launch checklists:
one shipped per product (scope done, customer-facing titles and notes, shipped through
the service, success metrics with actuals), one in progress and at risk (planned in five
days with a must-have not started and a required task overdue) and one planned each; the
workspace's public changelog is switched on.

Runs after the roadmap and feedback seeders (``seed_demo``), with their features.
Idempotent: a release is looked up by its product and version and set up only when it is
created; every write goes through the services.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from productops.demo import DemoContext
from releases import services
from releases.models import ChecklistState, ChecklistTask, Release, ReleaseStatus, ScopeState
from roadmap import services as roadmap_services
from roadmap.models import Feature, KeyResult, Product


@dataclass
class Scope:
    title: str
    must_have: bool = True
    state: str = ScopeState.TODO
    change_type: str = "new"
    # Customer-facing title and note, set on the feature before it ships.
    public_title: str = ""
    release_note: str = ""


@dataclass
class Metric:
    name: str
    unit: str
    baseline: str
    target: str
    review_in_days: int
    key_result: str = ""  # read the actual from this key result of the demo goals
    actuals: list[tuple[int, str, str]] = field(default_factory=list)  # (days ago, value, note)


@dataclass
class DemoRelease:
    product: str
    name: str
    version: str
    planned_in_days: int
    status: str
    summary: str
    scope: list[Scope]
    intro: str = ""  # the notes draft's first paragraph, before the notes made from the scope
    # Checklist tasks (by title prefix) and their state; a shipped release finishes all of them.
    tasks: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


RELEASES = [
    DemoRelease(
        product="Insights",
        name="Faster first dashboards",
        version="2.3.0",
        planned_in_days=1,
        status=ReleaseStatus.RELEASED,
        summary="New teams get to a useful dashboard in minutes, with a guide and sample data.",
        intro="Getting started with Insights is now much quicker.",
        scope=[
            Scope(
                "Guided first dashboard",
                state=ScopeState.DONE,
                public_title="A guided first dashboard",
                release_note="Pick a question and a source; Insights builds the first dashboard with you.",
            ),
            Scope(
                "Sample data workspace",
                must_have=False,
                state=ScopeState.DONE,
                public_title="Sample data to explore",
                release_note="Try every chart on a ready-made sample before connecting your own data.",
            ),
        ],
        metrics=[
            Metric(
                "Median minutes to first dashboard",
                "min",
                "42",
                "20",
                30,
                key_result="Median minutes to first dashboard",
            ),
            Metric(
                "Week-1 activation",
                "%",
                "38",
                "55",
                45,
                actuals=[(6, "40", "Beta cohort"), (0, "44", "First week after launch")],
            ),
        ],
    ),
    DemoRelease(
        product="Insights",
        name="Enterprise sign-in",
        version="2.4.0",
        planned_in_days=5,
        status=ReleaseStatus.IN_PROGRESS,
        summary="Single sign-on and automatic provisioning for enterprise identity providers.",
        scope=[
            Scope("SAML single sign-on", state=ScopeState.IN_PROGRESS),
            Scope("SCIM user provisioning"),  # a must-have not started, five days out: at risk
            Scope("Audit log export", must_have=False, change_type="improved"),
        ],
        tasks={"Positioning": ChecklistState.DONE, "Support team": ChecklistState.IN_PROGRESS},
    ),
    DemoRelease(
        product="Insights",
        name="Reporting",
        version="2.5.0",
        planned_in_days=45,
        status=ReleaseStatus.PLANNED,
        summary="Templates to start from and reports delivered on a schedule.",
        scope=[
            Scope("Dashboard templates gallery"),
            Scope("Scheduled PDF reports", must_have=False),
        ],
    ),
    DemoRelease(
        product="Connect",
        name="HubSpot and webhooks",
        version="1.4.0",
        planned_in_days=1,
        status=ReleaseStatus.RELEASED,
        summary="Bring HubSpot data in, and trigger your own workflows when data changes.",
        scope=[
            Scope(
                "HubSpot connector",
                state=ScopeState.DONE,
                public_title="HubSpot connector",
                release_note="Contacts, companies and deals from HubSpot, synced every 15 minutes.",
            ),
            Scope(
                "Webhook triggers",
                must_have=False,
                state=ScopeState.DONE,
                change_type="improved",
                public_title="Webhooks on sync",
                release_note="Call your endpoint whenever a sync brings new or changed rows.",
            ),
        ],
        metrics=[
            Metric("Connectors shipped", "", "11", "13", 60, key_result="Connectors shipped"),
            Metric(
                "Weekly HubSpot syncs",
                "",
                "0",
                "5000",
                30,
                actuals=[(5, "1200", "Early access"), (0, "2300", "")],
            ),
        ],
    ),
    DemoRelease(
        product="Connect",
        name="Incremental sync",
        version="1.5.0",
        planned_in_days=30,
        status=ReleaseStatus.PLANNED,
        summary="Only what changed is synced, so large sources stay fresh.",
        scope=[Scope("Incremental sync"), Scope("Zendesk connector", must_have=False)],
    ),
]

CHANGELOG = {
    "enabled": True,
    "title": "What's new",
    "intro": "Everything we ship, as it ships. Subscribe with RSS or Atom to hear first.",
}


@transaction.atomic
def seed(context: DemoContext, rng: random.Random) -> None:
    workspace = context.workspace
    products = {p.name: p for p in Product.objects.for_workspace(workspace)}
    for plan in RELEASES:
        product = products.get(plan.product)
        if product is None or Release.objects.filter(product=product, version=plan.version).exists():
            continue
        _seed_release(context, product, plan)
    services.changelog_settings_update(workspace=workspace, actor=context.users["demo"], data=CHANGELOG)
    _seed_generated_releases(context, rng)


#: Planned releases ``--scale N`` adds (10 × (N − 1)), each with the roadmap demo's
#: generated ideas as scope, so the release pages are measured on more than five.
GENERATED_PER_SCALE = 10
GENERATED_SCOPE = 3


def _seed_generated_releases(context: DemoContext, rng: random.Random) -> None:
    wanted = GENERATED_PER_SCALE * (context.scale - 1)
    ideas = list(
        Feature.objects.filter(
            workspace=context.workspace, title__startswith="Generated idea ", scope_items=None
        )
        .select_related("product")
        .order_by("id")
    )
    have = Release.objects.filter(workspace=context.workspace, name__startswith="Generated release ").count()
    pm = context.users["priya"]
    for number in range(have + 1, wanted + 1):
        scope, ideas = ideas[:GENERATED_SCOPE], ideas[GENERATED_SCOPE:]
        if not scope:
            return
        release = services.release_create(
            workspace=context.workspace,
            actor=pm,
            data={
                "product": scope[0].product,
                "name": f"Generated release {number}",
                "version": f"9.{number}.0",
                "planned_date": timezone.localdate() + timedelta(days=7 * number),
                "owner": pm,
            },
        )
        for feature in scope:
            services.scope_add(
                release=release, feature=feature, actor=pm, data={"is_must_have": rng.random() < 0.7}
            )


def _seed_release(context: DemoContext, product: Product, plan: DemoRelease) -> Release:
    workspace, pm, carlos = context.workspace, context.users["priya"], context.users["carlos"]
    today = timezone.localdate()
    release = services.release_create(
        workspace=workspace,
        actor=pm,
        data={
            "product": product,
            "name": plan.name,
            "version": plan.version,
            "planned_date": today + timedelta(days=plan.planned_in_days),
            "owner": pm,
            "summary": plan.summary,
        },
    )
    for row in plan.scope:
        feature = Feature.objects.filter(workspace=workspace, product=product, title=row.title).first()
        if feature is None or feature.merged_into_id is not None:
            continue
        if row.public_title or row.release_note:
            roadmap_services.feature_update(
                feature=feature,
                actor=pm,
                data={"public_title": row.public_title, "release_note": row.release_note},
            )
        item = services.scope_add(
            release=release,
            feature=feature,
            actor=pm,
            data={"is_must_have": row.must_have, "change_type": row.change_type},
        )
        if row.state != ScopeState.TODO:
            services.scope_update(item=item, actor=carlos, data={"state": row.state})

    tasks = ChecklistTask.objects.filter(release=release).order_by("position", "id")
    for task in tasks:
        state = ChecklistState.DONE if plan.status == ReleaseStatus.RELEASED else None
        for prefix, wanted in plan.tasks.items():
            if task.title.startswith(prefix):
                state = wanted
        if state is None and not task.is_required and plan.status == ReleaseStatus.RELEASED:
            state = ChecklistState.SKIPPED
        if state is not None:
            services.checklist_task_update(task=task, actor=carlos, data={"state": state})

    if plan.status == ReleaseStatus.RELEASED:
        generated = services.notes_generate(release=release)
        notes = f"{plan.intro}\n\n{generated}" if plan.intro else generated
        services.release_notes_update(release=release, actor=pm, notes=notes)
        release = services.release_ship(release=release, actor=pm).release
    elif plan.status != ReleaseStatus.PLANNED:
        release = services.release_change_status(release=release, to_status=plan.status, actor=pm)

    for metric in plan.metrics:
        key_result = (
            KeyResult.objects.filter(workspace=workspace, metric=metric.key_result).first()
            if metric.key_result
            else None
        )
        row = services.success_metric_create(
            workspace=workspace,
            actor=pm,
            data={
                "release": release,
                "name": metric.name,
                "unit": metric.unit,
                "baseline": Decimal(metric.baseline),
                "target": Decimal(metric.target),
                "review_date": today + timedelta(days=metric.review_in_days),
                "key_result": key_result,
            },
        )
        for days_ago, value, note in metric.actuals:
            services.metric_actual_record(
                metric=row,
                actor=carlos,
                value=Decimal(value),
                recorded_on=today - timedelta(days=days_ago),
                note=note,
            )
    return release
