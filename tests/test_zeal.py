"""django-zeal is on for the whole suite: an N+1 in a request or a Celery task fails the test
(tests/conftest.py, productops/test_settings.py, tests/zeal_allowlist.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from zeal import NPlusOneError
from zeal.middleware import zeal_middleware

from productops.celery import app
from roadmap.models import Feature
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("zeal" not in settings.INSTALLED_APPS, reason="ZEAL=0 left it out"),
]


def _product_names() -> list[str]:
    return [feature.product.name for feature in Feature.objects.all()]  # one query per feature


@pytest.fixture
def two_products(workspace):
    FeatureFactory(product=ProductFactory(workspace=workspace))
    FeatureFactory(product=ProductFactory(workspace=workspace))


def test_the_test_settings_install_zeal_and_its_middleware_first():
    assert "zeal" in settings.INSTALLED_APPS
    assert settings.MIDDLEWARE[0] == "zeal.middleware.zeal_middleware"
    assert settings.ZEAL_RAISE is True


def test_an_n_plus_one_in_a_request_fails(two_products):
    view = zeal_middleware(lambda request: _product_names())

    with pytest.raises(NPlusOneError, match=r"roadmap\.Feature\.product"):
        view(None)


def test_an_n_plus_one_in_a_celery_task_fails(two_products):
    task = app.task(name="tests.zeal.product_names")(_product_names)

    result = task.apply()

    assert isinstance(result.result, NPlusOneError)


def test_the_same_loop_with_select_related_passes(two_products):
    view = zeal_middleware(
        lambda request: [f.product.name for f in Feature.objects.select_related("product")]
    )

    assert len(view(None)) == 2


def test_a_tests_own_body_is_not_counted(two_products):
    # Tests build their data with services in loops; only requests and tasks are counted.
    assert len(_product_names()) == 2
