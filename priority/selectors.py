"""Reads of the priority engine: why a feature scores what it scores, and its history.

The explanation is computed now with the Python formulas (``priority.formulas``), the
reference the SQL recompute is checked against, so it also shows what a stale stored
score (a dirty feature, or decay since the last run) would become.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from feedback.models import FeedbackLink, Vote
from priority import formulas
from priority.demand import company_labels, demand_signals_for_feature
from priority.recompute import arr_rates
from productops.models import Workspace
from roadmap.models import (
    MODEL_COLUMN,
    Feature,
    FeatureCriterionValue,
    FeatureStatus,
    PrioritySnapshot,
    RoadmapSettings,
    ScorecardCriterion,
    ScoringModel,
)
from roadmap.selectors import settings_for

#: Companies listed one by one in a customer-impact explanation; the rest are summed.
EXPLAINED_COMPANIES = 100


def feature_priority_history(*, feature: Feature) -> QuerySet[PrioritySnapshot]:
    return PrioritySnapshot.objects.filter(feature=feature).order_by("-computed_at", "-id")


def priority_movers(*, workspace: Workspace, since: datetime) -> list[dict]:
    """Features whose rank changed since ``since``: old rank (before), new rank (now), and
    ``delta`` (places gained; negative when it fell; None when it entered or left the ranking)."""
    before = {}
    for snapshot in (
        PrioritySnapshot.objects.for_workspace(workspace)
        .filter(computed_at__lt=since)
        .order_by("feature_id", "-computed_at", "-id")
        .values("feature_id", "rank")
    ):
        before.setdefault(snapshot["feature_id"], snapshot["rank"])
    changed_ids = set(
        PrioritySnapshot.objects.for_workspace(workspace)
        .filter(computed_at__gte=since)
        .values_list("feature_id", flat=True)
    )
    movers = []
    for feature in Feature.objects.filter(pk__in=changed_ids).only(
        "id", "title", "priority_rank", "priority_score"
    ):
        old = before.get(feature.pk)
        if old != feature.priority_rank:
            movers.append(
                {
                    "feature": feature,
                    "old_rank": old,
                    "new_rank": feature.priority_rank,
                    "delta": old - feature.priority_rank
                    if old is not None and feature.priority_rank is not None
                    else None,
                    "score": feature.priority_score,
                }
            )
    movers.sort(key=lambda m: (m["new_rank"] is None, m["new_rank"] or 0))
    return movers


# --- rank moves, explained ----------------------------------------------------------

#: Labels of the inputs a snapshot keeps (``recompute._MODEL_INPUTS``), in plain words.
INPUT_LABELS = {
    "reach": "reach",
    "impact": "impact",
    "confidence": "confidence",
    "effort": "effort",
    "ice_impact": "impact",
    "ice_confidence": "confidence",
    "ice_ease": "ease",
    "business_value": "business value",
    "time_criticality": "time criticality",
    "risk_reduction": "risk reduction",
    "job_size": "job size",
    "value": "value",
    "customer_impact": "customer impact",
    "companies": "requesting companies",
}
#: Inputs that move because customers asked: said by the demand sentence instead when there is one.
DEMAND_INPUTS = {"customer_impact", "companies"}
SEGMENT_WORDS = {"enterprise": "enterprise", "mid_market": "mid-market", "smb": "SMB"}
NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
#: Two scores this close are the same score (float noise, not a change).
SAME_SCORE = 1e-9


def format_money(amount: float | Decimal | None, currency: str) -> str:
    """Compact money in ``currency``: $2.1M, $450k, $900 (another code: "CHF 2.1M")."""
    value = float(amount or 0)
    if abs(value) >= 1_000_000:
        text = f"{value / 1_000_000:.1f}".removesuffix(".0") + "M"
    elif abs(value) >= 1_000:
        text = f"{round(value / 1_000):,}k"
    else:
        text = f"{round(value):,}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def count_words(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else f"{n:,}"


def format_number(value: float | None, key: str = "") -> str:
    if value is None:
        return "unset"
    if key == "confidence":
        return f"{round(float(value) * 100)}%"
    value = float(value)
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"


def window_words(since: datetime, until: datetime) -> str:
    """How a digest's window reads: "in the last day", "this week", "in the last 12 days"."""
    days = (until - since).total_seconds() / 86400
    if days <= 1.5:
        return "in the last day"
    if 6 <= days <= 8:
        return "this week"
    return f"in the last {round(days)} days"


def _latest_snapshots(rows: QuerySet[PrioritySnapshot]) -> QuerySet[PrioritySnapshot]:
    """The latest of ``rows`` per feature (a window function: one query)."""
    return rows.annotate(
        newest=Window(
            expression=RowNumber(),
            partition_by=[F("feature_id")],
            order_by=[F("computed_at").desc(), F("id").desc()],
        )
    ).filter(newest=1)


_SNAPSHOT_FIELDS = (
    "feature_id",
    "scoring_model",
    "score",
    "rank",
    "computed_at",
    "contributions",
    "requesting_companies",
    "arr_at_stake",
)


def rank_moves_explained(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime | None = None,
    limit: int | None = 5,
    feature_ids: Iterable[int] | QuerySet | None = None,
) -> list[dict]:
    """Features whose rank changed in [``since``, ``until``) (until now without ``until``), each
    with why, in a constant number of queries (at most five) however many moved.

    The old rank is the feature's last history point before ``since``, the new one its latest
    point in the window. The reason is the difference of the two points' ``contributions``
    (the active model's inputs or per-criterion contributions), plus the demand that arrived
    in the window: the companies whose feedback was linked to it, or whose contacts voted for
    it, then (with their segment and ARR in the workspace's reporting currency), and the
    features that left the ranking above it (it rose) or entered above it (it fell). When its
    own score did not move and nothing else explains it, "others moved". Biggest moves first, then features
    that entered or left the ranking; ``limit`` of them (None: all). ``feature_ids`` (ids or
    a queryset of ids) restricts the features, e.g. to what a digest follows.

    Each entry: ``feature_id``, ``title``, ``status``, ``old_rank``, ``new_rank``, ``delta``
    (places gained; None when it entered or left), ``reason`` (a sentence), ``changes``
    (``key``, ``label``, ``before``, ``after`` of each input that changed), ``companies``
    (the new demand: ``company_id``, ``name``, ``segment``, ``arr``), ``new_demand_arr``,
    ``arr_at_stake`` and ``requesting_companies`` (of the latest point), ``score_before``,
    ``score_after``.
    """
    rows = PrioritySnapshot.objects.for_workspace(workspace)
    if feature_ids is not None:
        rows = rows.filter(
            feature_id__in=feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids)
        )
    in_window = rows.filter(computed_at__gte=since)
    if until is not None:
        in_window = in_window.filter(computed_at__lt=until)
    after = {
        row["feature_id"]: row
        for row in _latest_snapshots(in_window).values(*_SNAPSHOT_FIELDS, "feature__title", "feature__status")
    }
    if not after:
        return []
    before = {
        row["feature_id"]: row
        for row in _latest_snapshots(
            PrioritySnapshot.objects.filter(feature_id__in=list(after), computed_at__lt=since)
        ).values(*_SNAPSHOT_FIELDS)
    }
    moves = []
    for feature_id, new in after.items():
        old = before.get(feature_id)
        old_rank = old["rank"] if old else None
        if old_rank == new["rank"]:
            continue
        moves.append(
            {
                "feature_id": feature_id,
                "title": new["feature__title"],
                "status": new["feature__status"],
                "old_rank": old_rank,
                "new_rank": new["rank"],
                "delta": old_rank - new["rank"] if old_rank is not None and new["rank"] is not None else None,
                "_old": old,
                "_new": new,
            }
        )
    moves.sort(
        key=lambda m: (
            m["delta"] is None,
            -abs(m["delta"] or 0),
            m["new_rank"] is None,
            m["new_rank"] or 0,
            m["feature_id"],
        )
    )
    # Features that left the ranking (shipped, declined) or entered it move the others.
    left = [m["old_rank"] for m in moves if m["new_rank"] is None and m["old_rank"] is not None]
    entered = [m["new_rank"] for m in moves if m["old_rank"] is None and m["new_rank"] is not None]
    for move in moves:
        ranked_both = move["old_rank"] is not None and move["new_rank"] is not None
        move["_left_above"] = sum(1 for rank in left if ranked_both and rank < move["old_rank"])
        move["_entered_above"] = sum(1 for rank in entered if ranked_both and rank < move["new_rank"])
    if limit is not None:
        moves = moves[:limit]
    if not moves:
        return []
    end = until or timezone.now()
    currency = workspace.reporting_currency
    models_used = {m["_new"]["scoring_model"] for m in moves} | {
        m["_old"]["scoring_model"] for m in moves if m["_old"]
    }
    criteria = (
        {c.key: c for c in ScorecardCriterion.objects.for_workspace(workspace).only("key", "name", "source")}
        if ScoringModel.SCORECARD in models_used
        else {}
    )
    demand = demand_companies_by_feature(
        workspace=workspace, feature_ids=[m["feature_id"] for m in moves], since=since, until=until
    )
    when = window_words(since, end)
    for move in moves:
        old, new = move.pop("_old"), move.pop("_new")
        companies = demand.get(move["feature_id"], [])
        move["changes"] = _input_changes(old, new, criteria)
        move["companies"] = companies
        move["new_demand_arr"] = sum(c["arr"] for c in companies)
        move["arr_at_stake"] = new["arr_at_stake"]
        move["requesting_companies"] = new["requesting_companies"]
        move["score_before"] = old["score"] if old else None
        move["score_after"] = new["score"]
        move["reason"] = _move_sentence(
            move,
            old,
            new,
            criteria,
            when=when,
            currency=currency,
            left_above=move.pop("_left_above"),
            entered_above=move.pop("_entered_above"),
        )
    return moves


def demand_companies_by_feature(
    *,
    workspace: Workspace,
    feature_ids: Iterable[int] | QuerySet,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, list[dict]]:
    """Per feature, the distinct companies that asked for it (in [``since``, ``until``) when
    given: a feedback link made then, or a vote cast then): a link's company is the item's,
    else its contact's; a vote's the voter's. Company-less requests are not companies (as in
    the demand). Two queries; each company ``company_id``, ``name``, ``segment``, ``arr``
    (reporting currency), by ARR, largest first."""
    rates = arr_rates(workspace)
    ids = feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids)
    links = FeedbackLink.objects.filter(workspace=workspace, feature_id__in=ids)
    votes = Vote.objects.filter(workspace=workspace, feature_id__in=ids)
    if since is not None:
        links, votes = links.filter(created_at__gte=since), votes.filter(created_at__gte=since)
    if until is not None:
        links, votes = links.filter(created_at__lt=until), votes.filter(created_at__lt=until)
    found: dict[int, dict[int, dict]] = {}

    def add(feature_id: int, company_id: int | None, name: str, segment: str, arr, currency: str) -> None:
        if company_id is None:
            return
        found.setdefault(feature_id, {})[company_id] = {
            "company_id": company_id,
            "name": name,
            "segment": segment or None,
            "arr": max(0.0, float(arr or 0) * float(rates.get(currency, 0.0))),
        }

    for row in links.values(
        "feature_id",
        "item__company_id",
        "item__company__name",
        "item__company__segment",
        "item__company__arr",
        "item__company__arr_currency",
        "item__contact__company_id",
        "item__contact__company__name",
        "item__contact__company__segment",
        "item__contact__company__arr",
        "item__contact__company__arr_currency",
    ):
        prefix = "item__company" if row["item__company_id"] is not None else "item__contact__company"
        add(
            row["feature_id"],
            row[f"{prefix}_id"],
            row[f"{prefix}__name"],
            row[f"{prefix}__segment"],
            row[f"{prefix}__arr"],
            row[f"{prefix}__arr_currency"],
        )
    for row in votes.values(
        "feature_id",
        "contact__company_id",
        "contact__company__name",
        "contact__company__segment",
        "contact__company__arr",
        "contact__company__arr_currency",
    ):
        add(
            row["feature_id"],
            row["contact__company_id"],
            row["contact__company__name"],
            row["contact__company__segment"],
            row["contact__company__arr"],
            row["contact__company__arr_currency"],
        )
    return {
        feature_id: sorted(companies.values(), key=lambda c: (-c["arr"], c["name"], c["company_id"]))
        for feature_id, companies in found.items()
    }


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return abs(float(a) - float(b)) <= SAME_SCORE * max(1.0, abs(float(a)), abs(float(b)))
    except (TypeError, ValueError):
        return a == b


def _input_label(key: str, criteria: dict) -> str:
    if key in criteria:
        return f"{criteria[key].name} (scorecard)"
    return INPUT_LABELS.get(key, key.replace("_", " "))


def _input_changes(old: dict | None, new: dict, criteria: dict) -> list[dict]:
    """The inputs that differ between two history points of the same model. A point from
    before points kept their reason (empty ``contributions``) explains nothing."""
    if old is None:
        return []
    if old["scoring_model"] != new["scoring_model"]:
        return [
            {
                "key": "scoring_model",
                "label": "scoring model",
                "before": old["scoring_model"],
                "after": new["scoring_model"],
            }
        ]
    before, after = old["contributions"] or {}, new["contributions"] or {}
    if not before or not after:
        return []
    keys = [key for key in after if key in before] + [key for key in before if key not in after]
    return [
        {"key": key, "label": _input_label(key, criteria), "before": before.get(key), "after": after.get(key)}
        for key in keys
        if not _same(before.get(key), after.get(key))
    ]


def _change_words(change: dict) -> str:
    key, label, old, new = change["key"], change["label"], change["before"], change["after"]
    if key == "scoring_model":
        return (
            f"the scoring model changed from {ScoringModel(old).label} to {ScoringModel(new).label}"
            if old in ScoringModel.values and new in ScoringModel.values
            else "the scoring model changed"
        )
    if new is None:
        return f"{label} was cleared (was {format_number(old, key)})"
    if old is None:
        return f"{label} was set to {format_number(new, key)}"
    verb = "raised" if float(new) > float(old) else "lowered"
    if key in DEMAND_INPUTS or key not in INPUT_LABELS:
        verb = "rose" if float(new) > float(old) else "fell"
    return f"{label} {verb} from {format_number(old, key)} to {format_number(new, key)}"


def _demand_words(companies: list[dict], *, when: str, currency: str) -> str:
    """ "three enterprise companies (ARR $2.1M) asked for it this week"."""
    total = sum(c["arr"] for c in companies)
    arr = f"ARR {format_money(total, currency)}" if total > 0 else ""
    if len(companies) == 1:
        company = companies[0]
        details = ", ".join(filter(None, [SEGMENT_WORDS.get(company["segment"] or ""), arr]))
        return f"{company['name']}{f' ({details})' if details else ''} asked for it {when}"
    segments: dict[str, int] = {}
    for company in companies:
        word = SEGMENT_WORDS.get(company["segment"] or "", "")
        segments[word] = segments.get(word, 0) + 1
    if len(segments) == 1 and "" not in segments:
        (segment,) = segments
        details = f" ({arr})" if arr else ""
        return f"{count_words(len(companies))} {segment} companies{details} asked for it {when}"
    mix = ", ".join(
        f"{count_words(n)} {word or 'other'}"
        for word, n in sorted(segments.items(), key=lambda kv: (-kv[1], kv[0] == "", kv[0]))
    )
    details = "; ".join(filter(None, [mix, arr]))
    return f"{count_words(len(companies))} companies ({details}) asked for it {when}"


def _move_sentence(
    move: dict,
    old: dict | None,
    new: dict,
    criteria: dict,
    *,
    when: str,
    currency: str,
    left_above: int = 0,
    entered_above: int = 0,
) -> str:
    title, old_rank, new_rank = move["title"], move["old_rank"], move["new_rank"]
    if new_rank is None:
        status = FeatureStatus(move["status"]).label.lower() if move["status"] in FeatureStatus.values else ""
        head = f"{title} left the ranking" + (f" ({status})" if status else "")
    elif old_rank is None:
        head = f"{title} entered the ranking at #{new_rank}"
    else:
        head = f"{title} {'rose' if new_rank < old_rank else 'fell'} from #{old_rank} to #{new_rank}"
    if new_rank is None:
        return head
    parts = []
    if move["companies"]:
        parts.append(_demand_words(move["companies"], when=when, currency=currency))
    demand_criteria = {
        k for k, c in criteria.items() if c.source == ScorecardCriterion.Source.CUSTOMER_IMPACT
    }
    for change in move["changes"]:
        if move["companies"] and (change["key"] in DEMAND_INPUTS or change["key"] in demand_criteria):
            continue  # the demand sentence says it
        parts.append(_change_words(change))
    rose = old_rank is not None and new_rank < old_rank
    if rose and left_above:
        parts.append(
            f"{count_words(left_above)} feature{'s' if left_above > 1 else ''} above it left the ranking"
        )
    if not rose and entered_above:
        parts.append(
            f"{count_words(entered_above)} new feature{'s' if entered_above > 1 else ''} entered above it"
        )
    if not parts and old is not None:
        if _same(old["score"], new["score"]):
            parts.append("others moved")
        elif old["score"] is not None and new["score"] is not None:
            parts.append(
                f"its score went from {format_number(old['score'])} to {format_number(new['score'])}"
            )
    return f"{head}: {'; '.join(parts)}" if parts else head


# --- explanations ---------------------------------------------------------------


def _term(key: str, label: str, value: object, role: str, contribution: float | None = None) -> dict:
    return {
        "key": key,
        "label": label,
        "value": None if value is None else float(value),
        "role": role,
        "contribution": contribution,
    }


def feature_score_breakdown(*, feature: Feature, now: datetime | None = None) -> dict:
    """Why a feature scores what it scores, per model, and what each criterion adds.

    Additive models (customer impact, scorecard, WSJF's cost of delay) report each
    term's contribution to the total; multiplicative ones (RICE, ICE, value ÷ effort)
    report each factor and whether it multiplies or divides.
    """
    now = now or timezone.now()
    settings_row = settings_for(feature.workspace_id)
    effort = feature.effort
    wsjf_size = feature.job_size if feature.job_size is not None else effort
    cost_of_delay_terms = [
        ("business_value", "Business value", feature.business_value),
        ("time_criticality", "Time criticality", feature.time_criticality),
        ("risk_reduction", "Risk reduction / opportunity", feature.risk_reduction),
    ]
    wsjf_score = formulas.wsjf(
        business_value=feature.business_value,
        time_criticality=feature.time_criticality,
        risk_reduction=feature.risk_reduction,
        job_size=wsjf_size,
    )
    models = {
        ScoringModel.RICE: {
            "score": formulas.rice(
                reach=feature.reach,
                impact=feature.impact,
                confidence_pct=feature.confidence_pct,
                effort=effort,
            ),
            "formula": "reach × impact × confidence ÷ effort",
            "terms": [
                _term("reach", "Reach", feature.reach, "multiplier"),
                _term("impact", "Impact", feature.impact, "multiplier"),
                _term(
                    "confidence",
                    "Confidence",
                    None if feature.confidence_pct is None else feature.confidence_pct / 100,
                    "multiplier",
                ),
                _term("effort", "Effort", effort, "divisor"),
            ],
        },
        ScoringModel.ICE: {
            "score": formulas.ice(
                impact=feature.ice_impact, confidence=feature.ice_confidence, ease=feature.ice_ease
            ),
            "formula": "impact × confidence × ease",
            "terms": [
                _term("ice_impact", "Impact", feature.ice_impact, "multiplier"),
                _term("ice_confidence", "Confidence", feature.ice_confidence, "multiplier"),
                _term("ice_ease", "Ease", feature.ice_ease, "multiplier"),
            ],
        },
        ScoringModel.WSJF: {
            "score": wsjf_score,
            "formula": "(business value + time criticality + risk reduction) ÷ job size",
            "terms": [
                *[
                    _term(
                        key,
                        label,
                        value,
                        "addend",
                        None if wsjf_score is None or value is None else float(value) / float(wsjf_size),
                    )
                    for key, label, value in cost_of_delay_terms
                ],
                _term("job_size", "Job size", wsjf_size, "divisor"),
            ],
        },
        ScoringModel.VALUE_EFFORT: {
            "score": formulas.value_effort(value=feature.value, effort=effort),
            "formula": "value ÷ effort",
            "terms": [
                _term("value", "Value", feature.value, "multiplier"),
                _term("effort", "Effort", effort, "divisor"),
            ],
        },
    }
    models[ScoringModel.CUSTOMER_IMPACT] = _customer_impact_breakdown(feature, settings_row, now)
    models[ScoringModel.SCORECARD] = _scorecard_breakdown(
        feature, settings_row, models[ScoringModel.CUSTOMER_IMPACT]
    )
    active = ScoringModel(settings_row.scoring_model)
    return {
        "feature_id": feature.pk,
        "scoring_model": active.value,
        "score": getattr(feature, MODEL_COLUMN[active]),
        "rank": feature.priority_rank,
        "computed_at": feature.scores_computed_at,
        "models": {model.value: data for model, data in models.items()},
    }


def _customer_impact_breakdown(feature: Feature, settings_row: RoadmapSettings, now: datetime) -> dict:
    """Each requesting company's contribution, strongest first: the first
    :data:`EXPLAINED_COMPANIES` one by one, the rest summed in one ``others`` term."""
    workspace = feature.workspace
    signals = demand_signals_for_feature(feature_id=feature.pk, arr_rates=arr_rates(workspace))
    score, companies, contributions = formulas.customer_impact(
        signals,
        now=now,
        importance_weights=settings_row.importance_weights or formulas.DEFAULT_IMPORTANCE_WEIGHTS,
        segment_weights=settings_row.segment_weights or formulas.DEFAULT_SEGMENT_WEIGHTS,
        vote_weight=float(settings_row.vote_weight),
        half_life_days=float(settings_row.recency_half_life_days),
    )
    ranked = sorted(contributions.items(), key=lambda kv: (-kv[1], kv[0]))
    shown, rest = ranked[:EXPLAINED_COMPANIES], ranked[EXPLAINED_COMPANIES:]
    labels = company_labels(company_keys=[key for key, _ in shown])
    terms = [
        {**_term(key, labels[key]["name"], None, "addend", value), "company": labels[key]}
        for key, value in shown
    ]
    if rest:
        terms.append(
            {
                **_term("others", f"{len(rest)} more", None, "addend", sum(value for _, value in rest)),
                "company": None,
            }
        )
    return {
        "score": score,
        "formula": "Σ companies: segment weight × (1 + log10(1 + ARR/1000)) × strongest request "
        f"(importance × ½^(age days ÷ {settings_row.recency_half_life_days})); ARR in "
        f"{workspace.reporting_currency}",
        "requesting_companies": companies,
        "terms": terms,
    }


def _scorecard_breakdown(feature: Feature, settings_row: RoadmapSettings, customer_impact: dict) -> dict:
    criteria = list(ScorecardCriterion.objects.for_workspace(feature.workspace_id).order_by("position", "id"))
    manual = {
        v.criterion_id: v.value
        for v in FeatureCriterionValue.objects.filter(feature=feature, criterion__in=criteria)
    }
    competitors = feature.competitors.count()
    pairs = []
    terms = []
    total_weight = sum(float(c.weight) for c in criteria)
    for criterion in criteria:
        if criterion.source == ScorecardCriterion.Source.CUSTOMER_IMPACT:
            value = formulas.customer_impact_to_ten(
                customer_impact["score"], scale=float(settings_row.customer_impact_scale)
            )
        elif criterion.source == ScorecardCriterion.Source.COMPETITIVE_GAP:
            value = formulas.competitive_gap_to_ten(competitors)
        else:
            value = float(manual.get(criterion.pk, Decimal(0)))
        pairs.append((value, float(criterion.weight)))
        terms.append(
            {
                **_term(
                    criterion.key,
                    criterion.name,
                    value,
                    "addend",
                    value * float(criterion.weight) / total_weight if total_weight else None,
                ),
                "weight": float(criterion.weight),
                "source": criterion.source,
                "is_set": criterion.source != "manual" or criterion.pk in manual,
            }
        )
    return {"score": formulas.scorecard(pairs), "formula": "Σ weight × value ÷ Σ weight", "terms": terms}


def scorecard_terms_by_feature(
    *, workspace: Workspace, features: Iterable[Feature], settings_row: RoadmapSettings
) -> dict[int, list[dict]]:
    """Per feature, the weighted scorecard's terms as ``feature_score_breakdown`` gives them
    (``key``, ``label``, ``value``, ``weight``, ``contribution``), for a list of features at once:
    three queries (criteria, manual values, competitor counts) however many features. The
    customer-impact criterion is read from the stored ``score_customer_impact``."""
    features = list(features)
    criteria = list(ScorecardCriterion.objects.for_workspace(workspace).order_by("position", "id"))
    if not features or not criteria:
        return {f.pk: [] for f in features}
    ids = [f.pk for f in features]
    manual: dict[int, dict[int, float]] = {}
    for feature_id, criterion_id, value in FeatureCriterionValue.objects.filter(
        feature_id__in=ids, criterion__in=criteria
    ).values_list("feature_id", "criterion_id", "value"):
        manual.setdefault(feature_id, {})[criterion_id] = float(value)
    competitors: dict[int, int] = {}
    if any(c.source == ScorecardCriterion.Source.COMPETITIVE_GAP for c in criteria):
        through = Feature.competitors.through
        for feature_id in through.objects.filter(feature_id__in=ids).values_list("feature_id", flat=True):
            competitors[feature_id] = competitors.get(feature_id, 0) + 1
    total_weight = sum(float(c.weight) for c in criteria)
    scale = float(settings_row.customer_impact_scale)
    result: dict[int, list[dict]] = {}
    for feature in features:
        terms = []
        for criterion in criteria:
            if criterion.source == ScorecardCriterion.Source.CUSTOMER_IMPACT:
                value = formulas.customer_impact_to_ten(feature.score_customer_impact or 0.0, scale=scale)
            elif criterion.source == ScorecardCriterion.Source.COMPETITIVE_GAP:
                value = formulas.competitive_gap_to_ten(competitors.get(feature.pk, 0))
            else:
                value = manual.get(feature.pk, {}).get(criterion.pk, 0.0)
            weight = float(criterion.weight)
            terms.append(
                {
                    "key": criterion.key,
                    "label": criterion.name,
                    "value": value,
                    "weight": weight,
                    "contribution": value * weight / total_weight if total_weight else None,
                }
            )
        result[feature.pk] = terms
    return result


#: Statuses of work not yet committed to: the deal-blockers panel lists these.
NOT_STARTED_STATUSES = (FeatureStatus.IDEA, FeatureStatus.UNDER_CONSIDERATION, FeatureStatus.PLANNED)


def deal_blockers_unplanned(*, workspace: Workspace, limit: int = 8) -> list[Feature]:
    """Features that customers marked critical (``critical_requests`` > 0, as the recompute
    stores it) but that are not planned: not started (idea, under consideration, planned) and
    either on no horizon or still an idea or under consideration. Most deal-blockers first, then
    ARR at stake, then rank. One query."""
    return list(
        Feature.objects.for_workspace(workspace)
        .filter(critical_requests__gt=0, merged_into__isnull=True, status__in=NOT_STARTED_STATUSES)
        .filter(Q(horizon="") | Q(status__in=[FeatureStatus.IDEA, FeatureStatus.UNDER_CONSIDERATION]))
        .only(
            "id",
            "title",
            "status",
            "horizon",
            "priority_rank",
            "priority_score",
            "requesting_companies",
            "arr_at_stake",
            "critical_requests",
        )
        .order_by("-critical_requests", "-arr_at_stake", F("priority_rank").asc(nulls_last=True), "id")[
            :limit
        ]
    )
