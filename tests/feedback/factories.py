import factory
from django.utils import timezone

from feedback.matching import match_text
from feedback.models import Company, Contact, FeedbackItem, FeedbackLink, InboundWebhook, Vote
from tests.productops.factories import WorkspaceFactory


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    segment = "smb"
    arr = 0


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    company = None
    email = factory.Sequence(lambda n: f"person{n}@example.com")


class FeedbackItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeedbackItem

    workspace = factory.SubFactory(WorkspaceFactory)
    text = factory.Sequence(lambda n: f"Please add thing {n}")
    match_text = factory.LazyAttribute(lambda item: match_text(item.text))
    received_at = factory.LazyFunction(timezone.now)


class FeedbackLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeedbackLink

    workspace = factory.LazyAttribute(lambda link: link.feature.workspace)
    item = factory.SubFactory(FeedbackItemFactory, workspace=factory.SelfAttribute("..workspace"))
    importance = "nice_to_have"


class VoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vote

    workspace = factory.LazyAttribute(lambda vote: vote.feature.workspace)
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))


class InboundWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundWebhook

    workspace = factory.SubFactory(WorkspaceFactory)
    provider = InboundWebhook.Provider.GENERIC
    public_id = factory.Sequence(lambda n: f"hook{n:08d}")
    secret = factory.Sequence(lambda n: f"test-secret-{n}")
