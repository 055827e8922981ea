import factory
from django.utils import timezone

from board.models import BoardContact, BoardSettings, Comment
from tests.feedback.factories import ContactFactory
from tests.productops.factories import WorkspaceFactory


class BoardSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BoardSettings

    workspace = factory.SubFactory(WorkspaceFactory)
    enabled = True
    anonymous_viewing = True
    title = "Ideas"


class BoardContactFactory(factory.django.DjangoModelFactory):
    """A contact who verified on the board (``contact`` carries the workspace)."""

    class Meta:
        model = BoardContact

    workspace = factory.LazyAttribute(lambda b: b.contact.workspace)
    contact = factory.SubFactory(ContactFactory)
    verified_at = factory.LazyFunction(timezone.now)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    workspace = factory.LazyAttribute(lambda c: c.feature.workspace)
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    body = factory.Sequence(lambda n: f"Comment {n}")
