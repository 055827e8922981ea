from datetime import date, timedelta

import factory
from django.utils import timezone

from releases.models import ChecklistTask, Release, ScopeItem, SuccessMetric
from tests.roadmap.factories import FeatureFactory, ProductFactory


def in_days(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


class ReleaseFactory(factory.django.DjangoModelFactory):
    """A planned release, created directly (no checklist; use the service for that)."""

    class Meta:
        model = Release

    workspace = factory.LazyAttribute(lambda r: r.product.workspace)
    product = factory.SubFactory(ProductFactory)
    name = factory.Sequence(lambda n: f"Release {n}")
    version = factory.Sequence(lambda n: f"1.{n}.0")
    planned_date = factory.LazyFunction(lambda: in_days(30))


class ScopeItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScopeItem

    release = factory.SubFactory(ReleaseFactory)
    workspace = factory.LazyAttribute(lambda s: s.release.workspace)
    # Customer-facing title = the title, so generated notes have something to say.
    feature = factory.SubFactory(
        FeatureFactory,
        product=factory.SelfAttribute("..release.product"),
        public_title=factory.LazyAttribute(lambda f: f.title),
    )
    is_must_have = True


class ChecklistTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChecklistTask

    release = factory.SubFactory(ReleaseFactory)
    workspace = factory.LazyAttribute(lambda t: t.release.workspace)
    title = factory.Sequence(lambda n: f"Task {n}")
    is_required = True


class SuccessMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuccessMetric

    release = factory.SubFactory(ReleaseFactory)
    workspace = factory.LazyAttribute(lambda m: m.release.workspace)
    name = factory.Sequence(lambda n: f"Metric {n}")
    baseline = 10
    target = 20
    review_date = factory.LazyFunction(lambda: in_days(60))
