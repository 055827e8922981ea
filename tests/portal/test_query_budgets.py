"""Fixed query budgets of the portal's pages of one object: feature, feedback item, company,
release, stakeholder, subscription digest, delivery, webhook endpoint.

The ``*_does_not_grow`` tests beside them compare two sizes; these pin the exact number, for
one related row and for five (the builders of the API's budget tests), after a first visit
(which creates the settings rows).
"""

from __future__ import annotations

import pytest

from productops.models import Role
from tests.comms.test_query_budgets import _delivery, _endpoint, _release, _stakeholder, _subscription
from tests.feedback.test_query_budgets import _company, _item, by_backend
from tests.roadmap.test_query_budgets import _feature

pytestmark = pytest.mark.django_db


def _feature_page(workspace, user, n):
    return _feature(workspace, user, n)


PAGES = {
    # page: (path under /w/acme/, builder(workspace, user, n), exact queries)
    "feature": ("features/{pk}/", _feature_page, 25),  # + its comments (one query)
    # PostgreSQL: + savepoint, SET LOCAL pg_trgm.similarity_threshold, release (similar items).
    "feedback-item": ("feedback/{pk}/", lambda w, u, n: _item(w, n), by_backend(postgres=22, sqlite=19)),
    "company": ("companies/{pk}/", lambda w, u, n: _company(w, n), 11),  # + its account owners
    "release": ("releases/{pk}/", lambda w, u, n: _release(w, n), 17),
    # The feature to follow is a picker (no list of every feature).
    "stakeholder": ("comms/stakeholders/{pk}/", lambda w, u, n: _stakeholder(w, n), 10),
    "digest": ("comms/subscriptions/{pk}/digest/", lambda w, u, n: _subscription(w, n), 13),
    "delivery": ("comms/deliveries/{pk}/", lambda w, u, n: _delivery(w, n), 5),
    "webhook-endpoint": ("settings/webhooks/{pk}/", lambda w, u, n: _endpoint(w, n), 6),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_budget(page, workspace, portal_client, django_assert_num_queries):
    path, build, budget = PAGES[page]
    client, membership = portal_client(workspace, Role.ADMIN)
    plain, rich = build(workspace, membership.user, 1), build(workspace, membership.user, 5)
    client.get(f"/w/{workspace.slug}/" + path.format(pk=plain.pk))  # first use: settings rows

    for obj in (plain, rich):
        with django_assert_num_queries(budget):
            response = client.get(f"/w/{workspace.slug}/" + path.format(pk=obj.pk))
        assert response.status_code == 200, response.content[:300]
