import factory

from roadmap.models import Feature, Product, ScorecardCriterion, Team, TeamCapacity
from tests.productops.factories import WorkspaceFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Product {n}")


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feature

    workspace = factory.LazyAttribute(lambda f: f.product.workspace)
    product = factory.SubFactory(ProductFactory)
    title = factory.Sequence(lambda n: f"Feature {n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class TeamCapacityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamCapacity

    workspace = factory.LazyAttribute(lambda c: c.team.workspace)
    team = factory.SubFactory(TeamFactory)
    period = "2027-Q1"
    starts_on = "2027-01-01"
    ends_on = "2027-03-31"
    capacity = 10


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScorecardCriterion

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"criterion-{n}")
    name = factory.Sequence(lambda n: f"Criterion {n}")
    weight = 1
