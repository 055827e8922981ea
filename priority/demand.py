"""Customer demand: what the customer-impact score counts, read from feedback's tables.

Two readers of the same rule (``formulas.customer_impact``):

* :func:`demand_by_feature_sql`, the set-based SQL the recompute runs for many features;
* :func:`demand_signals_for_feature`, one feature's links and votes as Python objects, for
  the explanation and for the property tests that check the SQL against the formula.

A signal's decay is ½^(whole days of age ÷ half-life) with the exponent capped at
``formulas.MAX_HALF_LIVES``: a request dated far in the past weighs almost nothing
instead of underflowing the database's float arithmetic (``POWER(0.5, 1e6)`` is an
error on PostgreSQL, not zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from feedback.models import Company, Contact, FeedbackLink, Vote
from priority.formulas import MAX_HALF_LIVES, DemandSignal
from productops.sql import rate_case_sql, sql_datetime, sql_greatest, sql_least

# Feedback with no company is keyed by its contact, or failing that by itself, so
# it counts (with the unknown-segment weight) but never as a requesting company.
ITEM_KEY_OFFSET = 1_000_000_000_000


@dataclass(frozen=True)
class DemandWeights:
    """The workspace's settings the demand depends on."""

    importance_weights: Mapping[str, float]
    segment_weights: Mapping[str, float]
    vote_weight: float
    half_life_days: float
    #: Currency code → value of one unit in the reporting currency (the reporting one is 1).
    arr_rates: Mapping[str, float]


def _age_days_sql(column: str) -> str:
    """Whole days from ``column`` to the ``%s`` parameter (now), never negative, as a float."""
    if connection.vendor == "postgresql":
        # float8 throughout: ``date_part`` returns float8 where ``EXTRACT`` computes numeric
        # (PostgreSQL 14+), which cost a fifth of the demand aggregate at 1,000,000 links;
        # numeric POWER is slower still.
        return f"GREATEST(0.0, FLOOR(date_part('epoch', %s::timestamptz - {column}) / 86400.0))"
    return f"MAX(0.0, CAST(CAST(julianday(%s) - julianday({column}) AS INTEGER) AS FLOAT))"


def _decay_sql(column: str) -> str:
    """½^(age ÷ half-life) with the exponent capped; two parameters: now, half-life."""
    exponent = sql_least(f"{_age_days_sql(column)} / %s", f"{float(MAX_HALF_LIVES)}")
    return f"POWER(0.5, {exponent})"


def demand_by_feature_sql(
    *,
    workspace_id: int,
    now: datetime,
    weights: DemandWeights,
    feature_filter_sql: str = "",
    feature_filter_params: tuple = (),
) -> tuple[str, list]:
    """SQL yielding ``(feature_id, impact, companies, arr, critical)`` for features with any demand.

    Per feature and requesting company, the strongest recency-decayed signal
    (link or vote) times the company's weight, summed over companies. In the same
    aggregate: ``arr``, the ARR at stake (the distinct requesting companies' ARR in the
    reporting currency, as a history point's ``arr_at_stake``), and ``critical``, the
    deal-blockers (links of importance "critical"; one per linked item, votes never count).
    :func:`demand_summary` is the same rule in Python.
    ``feature_filter_sql`` restricts the features, e.g.
    ``"feature_id IN (SELECT id FROM roadmap_feature WHERE ...)"``.
    """
    now_value = sql_datetime(now)
    half_life = float(weights.half_life_days)
    importance = weights.importance_weights
    segments = weights.segment_weights
    importance_params = [
        float(importance.get("nice_to_have", 1.0)),
        float(importance.get("important", 2.0)),
        float(importance.get("critical", 4.0)),
    ]
    segment_params = [
        float(segments.get("enterprise", 3.0)),
        float(segments.get("mid_market", 2.0)),
        float(segments.get("smb", 1.0)),
        float(segments.get("", 1.0)),
    ]
    rate_sql, rate_params = rate_case_sql("c.arr_currency", dict(weights.arr_rates))
    link_filter = f"AND l.{feature_filter_sql}" if feature_filter_sql else ""
    vote_filter = f"AND v.{feature_filter_sql}" if feature_filter_sql else ""
    arr = sql_greatest(f"CAST(c.arr AS FLOAT) * {rate_sql}", "0.0")
    sql = f"""
        SELECT per_company.feature_id AS feature_id,
               SUM(per_company.best * COALESCE(company_weight.weight, %s)) AS impact,
               SUM(CASE WHEN per_company.company_id IS NOT NULL THEN 1 ELSE 0 END) AS companies,
               SUM(COALESCE(company_weight.arr, 0.0)) AS arr,
               SUM(per_company.critical) AS critical
        FROM (
            SELECT signals.feature_id, signals.company_key,
                   MAX(signals.company_id) AS company_id,
                   MAX(signals.signal_weight) AS best,
                   SUM(signals.critical) AS critical
            FROM (
                SELECT l.feature_id AS feature_id,
                       COALESCE(fi.company_id, ct.company_id) AS company_id,
                       COALESCE(fi.company_id, ct.company_id, -fi.contact_id, -{ITEM_KEY_OFFSET} - fi.id)
                           AS company_key,
                       (CASE l.importance WHEN 'nice_to_have' THEN %s WHEN 'important' THEN %s
                            WHEN 'critical' THEN %s ELSE 1.0 END)
                           * {_decay_sql("fi.received_at")} AS signal_weight,
                       CASE WHEN l.importance = 'critical' THEN 1 ELSE 0 END AS critical
                FROM feedback_feedbacklink l
                JOIN feedback_feedbackitem fi ON fi.id = l.item_id
                LEFT JOIN feedback_contact ct ON ct.id = fi.contact_id
                WHERE l.workspace_id = %s {link_filter}
                UNION ALL
                SELECT v.feature_id,
                       ct.company_id,
                       COALESCE(ct.company_id, -v.contact_id),
                       %s * {_decay_sql("v.created_at")},
                       0
                FROM feedback_vote v
                JOIN feedback_contact ct ON ct.id = v.contact_id
                WHERE v.workspace_id = %s {vote_filter}
            ) signals
            GROUP BY signals.feature_id, signals.company_key
        ) per_company
        LEFT JOIN (
            SELECT co.id, co.arr,
                   (CASE co.segment WHEN 'enterprise' THEN %s WHEN 'mid_market' THEN %s
                        WHEN 'smb' THEN %s ELSE %s END)
                   * (1.0 + LN(1.0 + co.arr / 1000.0) / LN(10.0)) AS weight
            FROM (
                SELECT c.id, c.segment, {arr} AS arr FROM feedback_company c WHERE c.workspace_id = %s
            ) co
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
        float(weights.vote_weight),
        now_value,
        half_life,
        workspace_id,
        *feature_filter_params,
        *segment_params,
        *rate_params,
        workspace_id,
    ]
    return sql, params


def _arr(company: Company | None, rates: Mapping[str, float]) -> float:
    if company is None:
        return 0.0
    return max(0.0, float(company.arr) * float(rates.get(company.arr_currency, 0.0)))


def demand_signals_for_feature(*, feature_id: int, arr_rates: Mapping[str, float]) -> list[DemandSignal]:
    """Every link and vote on one feature, with its company, for explanations (ARR converted
    to the reporting currency with ``arr_rates``)."""
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
                arr=_arr(company, arr_rates),
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
                arr=_arr(company, arr_rates),
                importance="vote",
                at=vote.created_at,
            )
        )
    return signals


def company_labels(*, company_keys: list[str]) -> dict[str, dict]:
    """Display data for company keys from :func:`demand_signals_for_feature`: the company
    (id, name, segment or None, ARR as a decimal string and its currency), else the contact
    or "Anonymous feedback" without an id, segment or currency."""
    company_ids = [int(k[1:]) for k in company_keys if k.startswith("c")]
    contact_ids = [int(k[1:]) for k in company_keys if k.startswith("p")]
    labels: dict[str, dict] = {}
    for company in Company.objects.filter(pk__in=company_ids):
        labels[f"c{company.pk}"] = {
            "company_id": company.pk,
            "name": company.name,
            "segment": company.segment or None,
            "arr": str(company.arr),
            "arr_currency": company.arr_currency,
        }
    for contact in Contact.objects.filter(pk__in=contact_ids):
        labels[f"p{contact.pk}"] = {
            "company_id": None,
            "name": str(contact),
            "segment": None,
            "arr": "0.00",
            "arr_currency": None,
        }
    for key in company_keys:
        labels.setdefault(
            key,
            {
                "company_id": None,
                "name": "Anonymous feedback",
                "segment": None,
                "arr": "0.00",
                "arr_currency": None,
            },
        )
    return labels
