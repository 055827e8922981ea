"""Bulk data for fault stacks, as Django code strings run by :meth:`Stack.django`.

The shapes follow ``bench.priority_recompute.generate`` (features with RICE inputs,
companies with ARR and segments, feedback items spread over 400 days, four links per item),
but go into an existing workspace, so the seeded owner's API token can reach them.
"""

from __future__ import annotations


def demand_code(*, workspace_id: int, features: int, companies: int, links: int) -> str:
    """Django code that fills the workspace, scores it once (every feature CLEAN) and sets
    ``result`` to ``{"feature_ids": [...], "run_s": seconds of that full run}``."""
    # Only integers are interpolated; the SQL inside takes its values as parameters.
    return f"""
import time
from django.db import connection, transaction
from priority.recompute import run
from productops.models import Workspace
from roadmap.models import Feature, Product

ws = Workspace.objects.get(pk={workspace_id})
with transaction.atomic():
    product = Product.objects.create(workspace=ws, name="Fault product")
    Feature.objects.bulk_create(
        [
            Feature(
                workspace=ws, product=product, title=f"Feature {{i}}",
                status="planned" if i % 3 else "idea", reach=(i * 37) % 5000,
                impact=[0.25, 0.5, 1, 2, 3][i % 5], confidence_pct=[50, 80, 100][i % 3],
                effort=1 + i % 13, value=1 + i % 10,
            )
            for i in range({features})
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            '''
            INSERT INTO feedback_company (workspace_id, name, domain, segment, plan, arr, arr_currency,
                lifecycle_stage, crm_external_id, do_not_contact, created_at, updated_at)
            SELECT %s, 'Company ' || g, 'c' || g || '.example',
                   (ARRAY['enterprise', 'mid_market', 'smb', ''])[1 + g %% 4], '',
                   (g %% 997) * 1000, 'USD', 'active', '', false, now(), now()
            FROM generate_series(1, %s) g
            ''',
            [ws.pk, {companies}],
        )
        cursor.execute(
            '''
            INSERT INTO feedback_feedbackitem (workspace_id, text, company_id, source, source_ref,
                source_url, kind, importance, tags, state, received_at, match_text,
                duplicates_checked_at, created_at, updated_at)
            SELECT %s, 'Request ' || g,
                   (SELECT MIN(id) FROM feedback_company WHERE workspace_id = %s) + (g * 7919) %% %s,
                   'api', '', '', 'request', 'important', '[]', 'linked',
                   now() - make_interval(days => (g %% 400)), 'request ' || g, now(), now(), now()
            FROM generate_series(1, %s) g
            ''',
            [ws.pk, ws.pk, {companies}, {links // 4}],
        )
        cursor.execute(
            '''
            INSERT INTO feedback_feedbacklink (workspace_id, item_id, feature_id, importance,
                created_at, updated_at)
            SELECT %s, i.id, f.first_id + ((i.id * 4 + k) %% %s),
                   (ARRAY['nice_to_have', 'important', 'critical'])[1 + (i.id + k) %% 3], now(), now()
            FROM feedback_feedbackitem i
            CROSS JOIN generate_series(0, 3) k
            CROSS JOIN (SELECT MIN(id) AS first_id FROM roadmap_feature WHERE workspace_id = %s) f
            WHERE i.workspace_id = %s
            ''',
            [ws.pk, {features}, ws.pk, ws.pk],
        )
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE")
started = time.perf_counter()
run(workspace_id=ws.pk, full=True)
result = {{
    "feature_ids": list(Feature.objects.filter(workspace=ws).order_by("id").values_list("id", flat=True)),
    "run_s": time.perf_counter() - started,
}}
"""  # noqa: S608
