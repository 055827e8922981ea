"""Demo roadmap: two products, goals with key results, initiatives, teams with
capacity, scorecard criteria (the demo ranks by the weighted scorecard, so customer demand
counts) and a realistic set of features with dependencies.

Idempotent: everything is looked up by its natural key (name or title) first,
so running ``seed_demo`` again changes nothing. ``--scale N`` adds ``40 × (N-1)``
generated features on top, for benchmarks. All writes go through the services; only the
history is then backdated (status changes spread over the last eight weeks, a key-result
value a week), relative to when the demo workspace was made, so digests and the dashboard's
"moved since last week" have something to show from the first run.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from productops.demo import DemoContext
from roadmap import services
from roadmap.models import (
    Feature,
    FeatureStatus,
    FeatureStatusChange,
    Goal,
    Initiative,
    KeyResult,
    KeyResultValue,
    Product,
    ScorecardCriterion,
    ScoringModel,
    Team,
    TeamCapacity,
)

PRODUCTS = [
    ("Insights", "Every team answers its own questions from live data in minutes.", ["Analyst", "Team lead"]),
    ("Connect", "Data flows in from every tool our customers use, with no engineer.", ["Admin", "Developer"]),
]

GOALS = [
    # (title, period, parent title, product, key results: (metric, unit, baseline, target, current))
    ("Grow enterprise ARR by 30 %", "2027 H1", None, None, [("Enterprise ARR", "M$", 4.2, 5.5, 4.6)]),
    (
        "Pass every enterprise security review",
        "2027 H1",
        "Grow enterprise ARR by 30 %",
        "Insights",
        [("Security questionnaires passed first time", "%", 55, 90, 62)],
    ),
    (
        "Halve time to first dashboard",
        "2027 H1",
        None,
        "Insights",
        [("Median minutes to first dashboard", "min", 42, 20, 35), ("Week-1 activation", "%", 38, 55, 41)],
    ),
    (
        "Connect the top 20 tools of our customers",
        "2027 H1",
        "Grow enterprise ARR by 30 %",
        "Connect",
        [("Connectors shipped", "", 8, 20, 11)],
    ),
]

INITIATIVES = [
    ("Enterprise readiness", "Pass every enterprise security review", "priya", 35),
    ("Onboarding", "Halve time to first dashboard", "priya", 25),
    ("Connector library", "Connect the top 20 tools of our customers", "carlos", 30),
]

TEAMS = {
    "Platform": [
        ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31), 60),
        ("2027-Q2", date(2027, 4, 1), date(2027, 6, 30), 60),
    ],
    "Growth": [
        ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31), 40),
        ("2027-Q2", date(2027, 4, 1), date(2027, 6, 30), 45),
    ],
}

CRITERIA = [
    ("goal_alignment", "Goal alignment", Decimal("3"), ScorecardCriterion.Source.MANUAL),
    ("customer_impact", "Customer impact", Decimal("4"), ScorecardCriterion.Source.CUSTOMER_IMPACT),
    ("strategic_fit", "Strategic fit", Decimal("2"), ScorecardCriterion.Source.MANUAL),
    ("competitive_gap", "Competitive gap", Decimal("1"), ScorecardCriterion.Source.COMPETITIVE_GAP),
]

# (title, product, initiative, team, status, horizon, effort, reach, impact, confidence,
#  tags, competitors, must-have)
FEATURES = [
    (
        "SAML single sign-on",
        "Insights",
        "Enterprise readiness",
        "Platform",
        "in_progress",
        "now",
        8,
        1200,
        3,
        80,
        ["Security"],
        ["Looker", "Tableau"],
        True,
    ),
    (
        "SCIM user provisioning",
        "Insights",
        "Enterprise readiness",
        "Platform",
        "planned",
        "now",
        5,
        800,
        2,
        80,
        ["Security"],
        ["Looker"],
        True,
    ),
    (
        "Audit log export",
        "Insights",
        "Enterprise readiness",
        "Platform",
        "planned",
        "next",
        3,
        600,
        2,
        100,
        ["Security", "Compliance"],
        ["Tableau"],
        False,
    ),
    (
        "Row-level permissions",
        "Insights",
        "Enterprise readiness",
        "Platform",
        "under_consideration",
        "next",
        13,
        900,
        3,
        50,
        ["Security"],
        ["Looker", "Power BI"],
        False,
    ),
    (
        "Data residency in the EU",
        "Insights",
        "Enterprise readiness",
        "Platform",
        "idea",
        "later",
        20,
        400,
        3,
        50,
        ["Compliance"],
        [],
        False,
    ),
    (
        "Guided first dashboard",
        "Insights",
        "Onboarding",
        "Growth",
        "in_progress",
        "now",
        5,
        3000,
        2,
        80,
        ["Onboarding"],
        ["Metabase"],
        True,
    ),
    (
        "Dashboard templates gallery",
        "Insights",
        "Onboarding",
        "Growth",
        "planned",
        "now",
        3,
        2500,
        1,
        80,
        ["Onboarding"],
        ["Metabase", "Power BI"],
        False,
    ),
    (
        "Sample data workspace",
        "Insights",
        "Onboarding",
        "Growth",
        "planned",
        "next",
        2,
        2000,
        1,
        100,
        ["Onboarding"],
        [],
        False,
    ),
    (
        "Scheduled PDF reports",
        "Insights",
        None,
        "Growth",
        "under_consideration",
        "next",
        5,
        1500,
        1,
        80,
        ["Reporting"],
        ["Tableau", "Power BI"],
        False,
    ),
    ("Dark mode", "Insights", None, "Growth", "idea", "later", 3, 2500, 0.5, 50, ["UX"], ["Metabase"], False),
    (
        "Natural-language questions",
        "Insights",
        None,
        "Growth",
        "idea",
        "later",
        13,
        2800,
        3,
        50,
        ["AI"],
        ["Power BI"],
        False,
    ),
    (
        "Mobile dashboards",
        "Insights",
        None,
        "Growth",
        "declined",
        "",
        13,
        700,
        1,
        50,
        ["Mobile"],
        ["Tableau"],
        False,
    ),
    (
        "Salesforce connector",
        "Connect",
        "Connector library",
        "Platform",
        "shipped",
        "now",
        5,
        1800,
        3,
        100,
        ["Connectors"],
        ["Fivetran"],
        True,
    ),
    (
        "HubSpot connector",
        "Connect",
        "Connector library",
        "Platform",
        "in_progress",
        "now",
        3,
        1400,
        2,
        100,
        ["Connectors"],
        ["Fivetran"],
        True,
    ),
    (
        "Zendesk connector",
        "Connect",
        "Connector library",
        "Platform",
        "planned",
        "next",
        3,
        900,
        2,
        80,
        ["Connectors", "Support"],
        ["Fivetran"],
        False,
    ),
    (
        "Snowflake write-back",
        "Connect",
        "Connector library",
        "Platform",
        "under_consideration",
        "next",
        8,
        500,
        2,
        50,
        ["Connectors"],
        [],
        False,
    ),
    ("Webhook triggers", "Connect", None, "Platform", "planned", "next", 3, 700, 1, 80, ["API"], [], False),
    (
        "Public REST API v2",
        "Connect",
        None,
        "Platform",
        "idea",
        "later",
        13,
        600,
        2,
        50,
        ["API"],
        ["Fivetran"],
        False,
    ),
    (
        "Incremental sync",
        "Connect",
        "Connector library",
        "Platform",
        "planned",
        "now",
        8,
        1800,
        2,
        80,
        ["Connectors", "Performance"],
        ["Fivetran"],
        True,
    ),
    (
        "Connector health alerts",
        "Connect",
        "Connector library",
        "Growth",
        "idea",
        "later",
        3,
        1000,
        1,
        80,
        ["Connectors"],
        [],
        False,
    ),
]

DEPENDENCIES = [
    ("SCIM user provisioning", "SAML single sign-on"),
    ("Row-level permissions", "SCIM user provisioning"),
    ("Dashboard templates gallery", "Guided first dashboard"),
    ("Zendesk connector", "Incremental sync"),
    ("Snowflake write-back", "Incremental sync"),
    ("Connector health alerts", "Webhook triggers"),
]

HORIZON_DATES = {
    "now": (date(2026, 12, 1), date(2027, 2, 26)),
    "next": (date(2027, 3, 1), date(2027, 5, 28)),
    "later": (date(2027, 6, 1), date(2027, 9, 30)),
}

WORKFLOW = ["idea", "under_consideration", "planned", "in_progress", "shipped"]


@transaction.atomic
def seed(context: DemoContext, rng: random.Random) -> None:
    workspace, pm, owner = context.workspace, context.users["priya"], context.users["demo"]
    products = {}
    for name, vision, personas in PRODUCTS:
        products[name] = Product.objects.filter(
            workspace=workspace, name=name
        ).first() or services.product_create(
            workspace=workspace, actor=pm, data={"name": name, "vision": vision, "personas": personas}
        )

    goals: dict[str, Goal] = {}
    for title, period, parent, product, key_results in GOALS:
        goal = Goal.objects.filter(workspace=workspace, title=title).first()
        if goal is None:
            goal = services.goal_create(
                workspace=workspace,
                actor=pm,
                data={
                    "title": title,
                    "period": period,
                    "parent": goals.get(parent),
                    "product": products.get(product),
                    "owner": owner if parent is None else pm,
                },
            )
            for metric, unit, baseline, target, current in key_results:
                services.key_result_create(
                    workspace=workspace,
                    actor=pm,
                    data={
                        "goal": goal,
                        "metric": metric,
                        "unit": unit,
                        "baseline": Decimal(str(baseline)),
                        "target": Decimal(str(target)),
                        "current": Decimal(str(current)),
                    },
                )
        goals[title] = goal

    initiatives: dict[str, Initiative] = {}
    for title, goal, owner_name, share in INITIATIVES:
        initiatives[title] = Initiative.objects.filter(
            workspace=workspace, title=title
        ).first() or services.initiative_create(
            workspace=workspace,
            actor=pm,
            data={
                "title": title,
                "goal": goals[goal],
                "owner": context.users[owner_name],
                "investment_target_pct": Decimal(share),
            },
        )

    teams: dict[str, Team] = {}
    for name, capacities in TEAMS.items():
        team = Team.objects.filter(workspace=workspace, name=name).first()
        if team is None:
            team = services.team_create(workspace=workspace, actor=pm, data={"name": name})
        for period, starts_on, ends_on, capacity in capacities:
            if not TeamCapacity.objects.filter(team=team, period=period).exists():
                services.team_capacity_create(
                    workspace=workspace,
                    actor=pm,
                    data={
                        "team": team,
                        "period": period,
                        "starts_on": starts_on,
                        "ends_on": ends_on,
                        "capacity": Decimal(capacity),
                    },
                )
        teams[name] = team

    first_seeding = not ScorecardCriterion.objects.filter(workspace=workspace).exists()
    for key, name, weight, source in CRITERIA:
        if not ScorecardCriterion.objects.filter(workspace=workspace, key=key).exists():
            services.scorecard_criterion_create(
                workspace=workspace,
                actor=pm,
                data={"key": key, "name": name, "weight": weight, "source": source, "position": len(key)},
            )
    if first_seeding:
        # The demo ranks by the weighted scorecard, whose customer-impact criterion lets the
        # customers' demand count beside goal alignment, fit and the competitive gap. Set once:
        # a rerun keeps whatever model the workspace chose since.
        services.roadmap_settings_update(
            workspace=workspace, actor=owner, data={"scoring_model": ScoringModel.SCORECARD}
        )

    features: dict[str, Feature] = {}
    for index, row in enumerate(FEATURES):
        title, product, initiative, team, status, horizon = row[:6]
        effort, reach, impact, confidence, tags, competitors, _mvp = row[6:]
        feature = Feature.objects.filter(workspace=workspace, title=title).first()
        if feature is None:
            start, target = HORIZON_DATES.get(horizon, (None, None))
            feature = services.feature_create(
                workspace=workspace,
                actor=pm,
                data={
                    "title": title,
                    "description": f"{title}: requested by customers and aligned with the "
                    f"{initiative or product} plan.",
                    "product": products[product],
                    "initiative": initiatives.get(initiative),
                    "team": teams[team],
                    "owner": pm,
                    "horizon": horizon,
                    "planned_start": start,
                    "target_date": target,
                    "effort": Decimal(effort),
                    "reach": reach,
                    "impact": Decimal(str(impact)),
                    "confidence_pct": confidence,
                    "ice_impact": min(10, 2 + int(impact * 2)),
                    "ice_confidence": confidence // 10,
                    "ice_ease": max(1, 10 - effort // 2),
                    "business_value": min(20, 3 + int(impact * 5)),
                    "time_criticality": 1 + (index * 7) % 20,
                    "risk_reduction": 1 + (index * 3) % 13,
                    "job_size": Decimal(effort),
                    "value": min(10, 2 + int(impact * 3)),
                    "is_public": status != FeatureStatus.DECLINED,
                    "tags": tags,
                    "competitors": competitors,
                    "goals": [initiatives[initiative].goal] if initiative else [],
                },
            )
            services.feature_set_criterion_values(
                feature=feature,
                values={"goal_alignment": 8 if initiative else 3, "strategic_fit": 2 + index % 8},
                actor=pm,
            )
            _walk_status(feature, status, pm)
            _backdate_statuses(feature, index, anchor=context.workspace.created_at)
        features[title] = feature

    for title, depends_on in DEPENDENCIES:
        feature, target = features[title], features[depends_on]
        if not feature.depends_on.filter(pk=target.pk).exists():
            services.feature_add_dependency(feature=feature, depends_on=target, actor=pm)

    _seed_generated_features(context, rng, products["Insights"], teams["Growth"])
    _backdate_key_results(context)


def _walk_status(feature: Feature, status: str, actor) -> None:
    """Move along the workflow one step at a time, so the history reads like real work."""
    if status == FeatureStatus.DECLINED:
        services.feature_change_status(
            feature=feature, to_status=status, actor=actor, reason="Low demand; revisit with usage data."
        )
        return
    for step in WORKFLOW[1 : WORKFLOW.index(status) + 1]:
        services.feature_change_status(feature=feature, to_status=step, actor=actor)


#: How far back the demo's history goes (status changes, key-result values, priority history).
HISTORY_WEEKS = 8


def _backdate_statuses(feature: Feature, index: int, *, anchor: datetime) -> None:
    """Spread a new feature's status history over the eight weeks before ``anchor``: created
    then, each step after the other, the last one three to four weeks ago, or, for one
    feature in four, in the last few days (news for the first digest)."""
    changes = list(FeatureStatusChange.objects.filter(feature=feature).order_by("created_at", "id"))
    start = anchor - timedelta(weeks=HISTORY_WEEKS) + timedelta(days=index % 7, hours=9)
    end = anchor - (timedelta(days=1 + index % 3) if index % 4 == 0 else timedelta(days=21 + index % 7))
    step = (end - start) / max(1, len(changes) - 1)
    for position, change in enumerate(changes):
        FeatureStatusChange.objects.filter(pk=change.pk).update(created_at=start + step * position)
    if len(changes) > 1:
        Feature.objects.filter(pk=feature.pk).update(status_changed_at=end)


def _backdate_key_results(context: DemoContext) -> None:
    """A weekly value for each demo key result from its baseline to today's value, over the
    eight weeks before the workspace was made; a key result that has its history is left
    alone (idempotent)."""
    anchor = context.workspace.created_at
    for key_result in KeyResult.objects.for_workspace(context.workspace).order_by("id"):
        if KeyResultValue.objects.filter(key_result=key_result).count() > 1:
            continue
        span = key_result.current - key_result.baseline
        # As precise as the figures the key result was given (4.2 → 4.6: tenths; 55 → 62: units).
        places = max(
            -min(v.normalize().as_tuple().exponent, 0) for v in (key_result.baseline, key_result.current)
        )
        step = Decimal(1).scaleb(-places)
        KeyResultValue.objects.bulk_create(
            KeyResultValue(
                workspace=context.workspace,
                key_result=key_result,
                value=(key_result.baseline + span * (HISTORY_WEEKS - weeks) / HISTORY_WEEKS).quantize(step),
                recorded_at=anchor - timedelta(weeks=weeks, hours=1),
                actor=context.users["priya"],
            )
            for weeks in range(HISTORY_WEEKS, 0, -1)
        )


def _seed_generated_features(context: DemoContext, rng: random.Random, product: Product, team: Team) -> None:
    wanted = 40 * (context.scale - 1)
    have = Feature.objects.filter(workspace=context.workspace, title__startswith="Generated idea ").count()
    for number in range(have + 1, wanted + 1):
        services.feature_create(
            workspace=context.workspace,
            actor=None,
            data={
                "title": f"Generated idea {number}",
                "product": product,
                "team": team,
                "effort": Decimal(rng.choice([1, 2, 3, 5, 8, 13])),
                "reach": rng.randint(50, 3000),
                "impact": Decimal(str(rng.choice([0.25, 0.5, 1, 2, 3]))),
                "confidence_pct": rng.choice([50, 80, 100]),
                "value": rng.randint(1, 10),
            },
        )
