"""End-to-end flows of the team portal in a real browser."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_and_see_the_dashboard(page, demo):
    sign_in(page)
    assert page.get_by_role("heading", name="Top priorities").is_visible()
    assert (
        page.locator("svg[role=img] title").first.text_content()
        == "Feedback received per week, last 12 weeks"
    )
