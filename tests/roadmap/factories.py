from datetime import date

import factory

from roadmap.models import Feature, Goal, KeyResult, Product, ScorecardCriterion, Team, TeamCapacity
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
    starts_on = date(2027, 1, 1)
    ends_on = date(2027, 3, 31)
    capacity = 10


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScorecardCriterion

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"criterion-{n}")
    name = factory.Sequence(lambda n: f"Criterion {n}")
    weight = 1


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    workspace = factory.SubFactory(WorkspaceFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    period = "2027 H1"


class KeyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyResult

    workspace = factory.LazyAttribute(lambda k: k.goal.workspace)
    goal = factory.SubFactory(GoalFactory)
    metric = factory.Sequence(lambda n: f"Metric {n}")
    baseline = 0
    target = 100
    current = 0
