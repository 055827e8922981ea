"""Reads of the feedback app, including the customer demand the priority engine scores.

The demand SQL is the set-based twin of ``roadmap.scoring.formulas.customer_impact``;
a property test checks they agree on random data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from django.db import connection

from feedback.models import FeedbackLink, Vote
from roadmap.scoring.formulas import DemandSignal


def _age_days_sql(column: str) -> str:
    """Whole days from ``column`` to the ``%s`` parameter (now), never negative, as a float."""
    if connection.vendor == "postgresql":
        # float8 throughout: EXTRACT returns numeric, and numeric POWER is slow.
        return f"GREATEST(0.0, FLOOR(EXTRACT(EPOCH FROM (%s::timestamptz - {column}))::float8 / 86400.0))"
    return f"MAX(0.0, CAST(CAST(julianday(%s) - julianday({column}) AS INTEGER) AS FLOAT))"


# Feedback with no company is keyed by its contact, or failing that by itself, so
# it counts (with the unknown-segment weight) but never as a requesting company.
ITEM_KEY_OFFSET = 1_000_000_000_000


def demand_by_feature_sql(
    *,
    workspace_id: int,
    now: datetime,
    importance_weights: Mapping[str, float],
    segment_weights: Mapping[str, float],
    vote_weight: float,
    half_life_days: float,
    feature_filter_sql: str = "",
    feature_filter_params: tuple = (),
) -> tuple[str, list]:
    """SQL yielding ``(feature_id, impact, companies)`` for features with any demand.

    Per feature and requesting company, the strongest recency-decayed signal
    (link or vote) times the company's weight, summed over companies.
    ``feature_filter_sql`` restricts the features, e.g.
    ``"feature_id IN (SELECT id FROM roadmap_feature WHERE ...)"``.
    """
    now_value = now if connection.vendor == "postgresql" else now_utc_text(now)
    half_life = float(half_life_days)
    importance_params = [
        float(importance_weights.get("nice_to_have", 1.0)),
        float(importance_weights.get("important", 2.0)),
        float(importance_weights.get("critical", 4.0)),
    ]
    segment_params = [
        float(segment_weights.get("enterprise", 3.0)),
        float(segment_weights.get("mid_market", 2.0)),
        float(segment_weights.get("smb", 1.0)),
        float(segment_weights.get("", 1.0)),
    ]
    link_filter = f"AND l.{feature_filter_sql}" if feature_filter_sql else ""
    vote_filter = f"AND v.{feature_filter_sql}" if feature_filter_sql else ""
    sql = f"""
        SELECT per_company.feature_id AS feature_id,
               SUM(per_company.best * COALESCE(company_weight.weight, %s)) AS impact,
               SUM(CASE WHEN per_company.company_id IS NOT NULL THEN 1 ELSE 0 END) AS companies
        FROM (
            SELECT signals.feature_id, signals.company_key,
                   MAX(signals.company_id) AS company_id,
                   MAX(signals.signal_weight) AS best
            FROM (
                SELECT l.feature_id AS feature_id,
                       COALESCE(fi.company_id, ct.company_id) AS company_id,
                       COALESCE(fi.company_id, ct.company_id, -fi.contact_id, -{ITEM_KEY_OFFSET} - fi.id)
                           AS company_key,
                       (CASE l.importance WHEN 'nice_to_have' THEN %s WHEN 'important' THEN %s
                            WHEN 'critical' THEN %s ELSE 1.0 END)
                           * POWER(0.5, {_age_days_sql("fi.received_at")} / %s) AS signal_weight
                FROM feedback_feedbacklink l
                JOIN feedback_feedbackitem fi ON fi.id = l.item_id
                LEFT JOIN feedback_contact ct ON ct.id = fi.contact_id
                WHERE l.workspace_id = %s {link_filter}
                UNION ALL
                SELECT v.feature_id,
                       ct.company_id,
                       COALESCE(ct.company_id, -v.contact_id),
                       %s * POWER(0.5, {_age_days_sql("v.created_at")} / %s)
                FROM feedback_vote v
                JOIN feedback_contact ct ON ct.id = v.contact_id
                WHERE v.workspace_id = %s {vote_filter}
            ) signals
            GROUP BY signals.feature_id, signals.company_key
        ) per_company
        LEFT JOIN (
            SELECT co.id,
                   (CASE co.segment WHEN 'enterprise' THEN %s WHEN 'mid_market' THEN %s
                        WHEN 'smb' THEN %s ELSE %s END)
                   * (1.0 + LN(1.0 + CAST(co.arr AS FLOAT) / 1000.0) / LN(10.0)) AS weight
            FROM feedback_company co
            WHERE co.workspace_id = %s
        ) company_weight ON company_weight.id = per_company.company_id
        GROUP BY per_company.feature_id
    """
    params = [
        segment_params[3],
        *importance_params,
        now_value,
        half_life,
        workspace_id,
        *feature_filter_params,
        float(vote_weight),
        now_value,
        half_life,
        workspace_id,
        *feature_filter_params,
        *segment_params,
        workspace_id,
    ]
    return sql, params


def now_utc_text(now: datetime) -> str:
    """A datetime as SQLite stores it: naive UTC text."""
    return now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def demand_signals_for_feature(*, feature_id: int) -> list[DemandSignal]:
    """Every link and vote on one feature, with its company, for explanations."""
    signals: list[DemandSignal] = []
    links = FeedbackLink.objects.filter(feature_id=feature_id).select_related(
        "item__company", "item__contact__company"
    )
    for link in links:
        item = link.item
        company = item.company or (item.contact.company if item.contact else None)
        if company is not None:
            key = f"c{company.pk}"
        elif item.contact_id is not None:
            key = f"p{item.contact_id}"
        else:
            key = f"i{item.pk}"
        signals.append(
            DemandSignal(
                company_key=key,
                company_id=company.pk if company else None,
                segment=company.segment if company else "",
                arr=float(company.arr) if company else 0.0,
                importance=link.importance,
                at=item.received_at,
            )
        )
    for vote in Vote.objects.filter(feature_id=feature_id).select_related("contact__company"):
        company = vote.contact.company
        signals.append(
            DemandSignal(
                company_key=f"c{company.pk}" if company else f"p{vote.contact_id}",
                company_id=company.pk if company else None,
                segment=company.segment if company else "",
                arr=float(company.arr) if company else 0.0,
                importance="vote",
                at=vote.created_at,
            )
        )
    return signals


def company_labels(*, company_keys: list[str]) -> dict[str, dict]:
    """Display data for company keys from :func:`demand_signals_for_feature`."""
    from feedback.models import Company, Contact

    company_ids = [int(k[1:]) for k in company_keys if k.startswith("c")]
    contact_ids = [int(k[1:]) for k in company_keys if k.startswith("p")]
    labels: dict[str, dict] = {}
    for company in Company.objects.filter(pk__in=company_ids):
        labels[f"c{company.pk}"] = {
            "company_id": company.pk,
            "name": company.name,
            "segment": company.segment,
            "arr": str(company.arr),
        }
    for contact in Contact.objects.filter(pk__in=contact_ids):
        labels[f"p{contact.pk}"] = {"company_id": None, "name": str(contact), "segment": "", "arr": "0"}
    for key in company_keys:
        labels.setdefault(key, {"company_id": None, "name": "Anonymous feedback", "segment": "", "arr": "0"})
    return labels
