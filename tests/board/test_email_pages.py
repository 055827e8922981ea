"""The public pages e-mail links open: a stakeholder's preferences and unsubscribe, a contact's
unsubscribe, the changelog's e-mail subscription (double opt-in). No login; they work whether
or not the board is on; the unsubscribe URLs take the RFC 8058 one-click POST without a CSRF
token, the pages' own forms need one; a tampered or foreign token is a 404 that writes nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.test.utils import override_settings

from board.models import BoardContact
from comms import links, tokens
from comms.models import Stakeholder, Subscription
from feedback.models import Contact
from productops.models import AuditEvent
from productops.outbox.models import Delivery
from releases.models import ChangelogSettings
from tests.board.factories import BoardContactFactory, BoardSettingsFactory
from tests.comms.factories import StakeholderFactory, SubscriptionFactory
from tests.feedback.factories import ContactFactory
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _path(url: str) -> str:
    return url.removeprefix("http://localhost:8000")


def _csrf_client(path: str) -> tuple[Client, str]:
    """A browser that loaded ``path`` (and got its CSRF cookie), and the form's token."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    return client, token


@pytest.fixture
def stakeholder(workspace):
    return StakeholderFactory(workspace=workspace, email="exec@example.com", name="Erin Exec")


# --- a stakeholder's preferences ---------------------------------------------------------------


def test_the_preference_page_lists_each_subscription_and_saves_cadences(workspace, stakeholder):
    everything = SubscriptionFactory(stakeholder=stakeholder, cadence="weekly")
    product = SubscriptionFactory(
        stakeholder=stakeholder,
        target_workspace=None,
        product=ProductFactory(workspace=workspace, name="Reporting"),
        cadence="daily",
    )
    path = _path(links.stakeholder_links(stakeholder)["preferences"])
    assert path.startswith(f"/p/{workspace.slug}/email/preferences/")

    client, csrf = _csrf_client(path)  # no board settings at all: the page works anyway
    page = client.get(path).content.decode()
    assert "Everything in Acme" in page
    assert "Product: Reporting" in page
    assert f'name="cadence_{everything.pk}"' in page
    assert '<option value="weekly" selected>' in page
    assert 'name="unsubscribed"' in page

    response = client.post(
        path,
        {
            "csrfmiddlewaretoken": csrf,
            f"cadence_{everything.pk}": "immediate",
            f"cadence_{product.pk}": "off",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == path
    everything.refresh_from_db()
    product.refresh_from_db()
    assert (everything.cadence, everything.is_active) == ("immediate", True)
    assert (product.cadence, product.is_active) == ("daily", False)
    assert b"Your e-mail preferences are saved." in client.get(path).content


def test_unsubscribing_from_everything_on_the_page_and_back(workspace, stakeholder):
    subscription = SubscriptionFactory(stakeholder=stakeholder)
    path = _path(links.stakeholder_links(stakeholder)["preferences"])
    client, csrf = _csrf_client(path)
    field = f"cadence_{subscription.pk}"

    client.post(path, {"csrfmiddlewaretoken": csrf, field: "weekly", "unsubscribed": "on"})
    stakeholder.refresh_from_db()
    assert stakeholder.unsubscribed_at is not None
    assert re.search(
        r"<input type=\"checkbox\" name=\"unsubscribed\"[^>]* checked>", client.get(path).content.decode()
    )

    client.post(path, {"csrfmiddlewaretoken": csrf, field: "weekly"})
    stakeholder.refresh_from_db()
    assert stakeholder.unsubscribed_at is None


def test_the_preference_form_needs_its_csrf_token_and_a_known_cadence(workspace, stakeholder):
    subscription = SubscriptionFactory(stakeholder=stakeholder)
    path = _path(links.stakeholder_links(stakeholder)["preferences"])
    field = f"cadence_{subscription.pk}"

    forged = Client(enforce_csrf_checks=True).post(path, {field: "off"})
    client, csrf = _csrf_client(path)
    invalid = client.post(path, {"csrfmiddlewaretoken": csrf, field: "hourly"})

    assert forged.status_code == 403
    assert invalid.status_code == 400
    subscription.refresh_from_db()
    assert (subscription.cadence, subscription.is_active) == ("weekly", True)


# --- a stakeholder's unsubscribe ---------------------------------------------------------------


def test_the_unsubscribe_page_asks_first_then_unsubscribes(workspace, stakeholder):
    path = _path(links.stakeholder_links(stakeholder)["unsubscribe"])
    client, csrf = _csrf_client(path)

    page = client.get(path)
    stakeholder.refresh_from_db()
    assert page.status_code == 200
    assert b"Unsubscribe</button>" in page.content
    assert stakeholder.unsubscribed_at is None  # a GET (a mail scanner) changes nothing

    response = client.post(path, {"csrfmiddlewaretoken": csrf})
    stakeholder.refresh_from_db()
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert stakeholder.unsubscribed_at is not None


def test_the_one_click_post_unsubscribes_without_a_csrf_token(workspace, stakeholder):
    BoardSettingsFactory(workspace=workspace, enabled=False)
    url = links.stakeholder_links(stakeholder)["unsubscribe"]
    assert links.unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }

    response = Client(enforce_csrf_checks=True).post(_path(url), ONE_CLICK)

    assert response.status_code == 200
    stakeholder.refresh_from_db()
    assert stakeholder.unsubscribed_at is not None
    event = AuditEvent.objects.get(target_type="comms.stakeholder")
    assert event.changes["via"] == "link"


def test_a_plain_post_without_the_one_click_body_still_needs_the_csrf_token(workspace, stakeholder):
    path = _path(links.stakeholder_links(stakeholder)["unsubscribe"])
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "yes"})
    assert response.status_code == 403
    stakeholder.refresh_from_db()
    assert stakeholder.unsubscribed_at is None


# --- a contact's unsubscribe ---------------------------------------------------------------------


def test_a_contact_unsubscribes_from_the_page_or_one_click(workspace):
    BoardSettingsFactory(workspace=workspace)
    page_contact = ContactFactory(workspace=workspace)
    mail_contact = ContactFactory(workspace=workspace)
    page_path = _path(links.contact_unsubscribe_url(page_contact, workspace))
    assert page_path.startswith(f"/p/{workspace.slug}/email/contact-unsubscribe/")

    client, csrf = _csrf_client(page_path)
    assert Contact.objects.get(pk=page_contact.pk).unsubscribed_at is None
    response = client.post(page_path, {"csrfmiddlewaretoken": csrf})
    one_click = Client(enforce_csrf_checks=True).post(
        _path(links.contact_unsubscribe_url(mail_contact, workspace)), ONE_CLICK
    )

    assert (response.status_code, one_click.status_code) == (200, 200)
    assert b"You are unsubscribed" in response.content
    assert Contact.objects.filter(unsubscribed_at__isnull=False).count() == 2


# --- tokens that do not fit ------------------------------------------------------------------------


def test_tampered_or_foreign_tokens_are_a_404_that_writes_nothing(workspace, other_workspace, stakeholder):
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    contact = ContactFactory(workspace=workspace)
    good = {
        "email/preferences": tokens.stakeholder_token(stakeholder),
        "email/unsubscribe": tokens.stakeholder_token(stakeholder),
        "email/contact-unsubscribe": tokens.contact_token(contact),
        "changelog/confirm": tokens.confirm_token(
            StakeholderFactory(workspace=workspace, confirmed_at=None, email="new@example.com")
        ),
    }
    other_kind = {  # a real token, but of another kind of link
        "email/preferences": good["email/contact-unsubscribe"],
        "email/unsubscribe": good["changelog/confirm"],
        "email/contact-unsubscribe": good["email/preferences"],
        "changelog/confirm": good["email/unsubscribe"],
    }
    client = Client()
    for page, token in good.items():
        for slug, bad in (
            (workspace.slug, token[:-3] + "abc"),  # tampered
            (other_workspace.slug, token),  # another workspace's link
            (workspace.slug, other_kind[page]),
        ):
            path = f"/p/{slug}/{page}/{bad}/"
            for response in (client.get(path), client.post(path, ONE_CLICK)):
                assert response.status_code == 404, (path, response.status_code)
                assert b"This link is not valid" in response.content
    assert client.get(f"/p/nowhere/email/preferences/{good['email/preferences']}/").status_code == 404

    assert Stakeholder.objects.filter(unsubscribed_at__isnull=False).count() == 0
    assert Stakeholder.objects.filter(confirmed_at__isnull=True).count() == 1
    assert Contact.objects.filter(unsubscribed_at__isnull=False).count() == 0
    assert AuditEvent.objects.count() == 0


# --- the board's own (older) unsubscribe link ------------------------------------------------------


def test_the_boards_old_unsubscribe_link_works_as_before_even_with_the_board_off(workspace):
    from board import services

    BoardSettingsFactory(workspace=workspace, enabled=False)
    contact = ContactFactory(workspace=workspace)
    BoardContactFactory(contact=contact)
    path = f"/p/{workspace.slug}/unsubscribe/{services.unsubscribe_token(contact)}/"
    client, csrf = _csrf_client(path)

    assert b"Stop these e-mails</button>" in client.get(path).content
    response = client.post(path, {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 200
    assert b"You will no longer get e-mails" in response.content
    assert BoardContact.objects.get().notifications_enabled is False
    bad = client.post(f"/p/{workspace.slug}/unsubscribe/nope/", {"csrfmiddlewaretoken": csrf})
    assert bad.status_code == 400


# --- the changelog's e-mail subscription -----------------------------------------------------------


@pytest.fixture
def changelog(workspace):
    return ChangelogSettings.objects.create(workspace=workspace, enabled=True, title="What's new at Acme")


def test_the_changelog_page_has_a_subscribe_form_that_sends_a_confirmation(workspace, changelog):
    page = Client().get(f"/p/{workspace.slug}/changelog/").content.decode()
    assert f'action="/p/{workspace.slug}/changelog/subscribe/"' in page
    assert 'name="email"' in page

    client = Client()
    response = client.post(f"/p/{workspace.slug}/changelog/subscribe/", {"email": "Pat@Example.com"})

    assert response.status_code == 302
    assert response["Location"] == f"/p/{workspace.slug}/changelog/"
    assert b"we have sent it a link" in client.get(response["Location"]).content
    stakeholder = Stakeholder.objects.get()
    assert (stakeholder.email, stakeholder.confirmed_at, stakeholder.audience) == (
        "pat@example.com",
        None,
        "customer",
    )
    delivery = Delivery.objects.get()
    assert delivery.kind == "comms.changelog_confirm"
    confirm = re.search(r"http://localhost:8000(/p/\S+/changelog/confirm/\S+/)", delivery.body_text).group(1)

    confirm_client, csrf = _csrf_client(confirm)  # a GET shows a button: scanners confirm nothing
    stakeholder.refresh_from_db()
    assert stakeholder.confirmed_at is None
    done = confirm_client.post(confirm, {"csrfmiddlewaretoken": csrf})

    assert done.status_code == 200
    assert b"you are subscribed" in done.content
    stakeholder.refresh_from_db()
    assert stakeholder.confirmed_at is not None
    assert Subscription.objects.get().cadence == "immediate"


def test_known_and_unknown_addresses_get_the_same_answer(workspace, changelog):
    SubscriptionFactory(
        stakeholder=StakeholderFactory(workspace=workspace, email="known@example.com"), cadence="immediate"
    )
    known = Client().post(
        f"/p/{workspace.slug}/changelog/subscribe/", {"email": "known@example.com"}, follow=True
    )
    unknown = Client().post(
        f"/p/{workspace.slug}/changelog/subscribe/", {"email": "new@example.com"}, follow=True
    )

    assert known.redirect_chain == unknown.redirect_chain == [(f"/p/{workspace.slug}/changelog/", 302)]
    strip = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')
    assert strip.sub(b"", known.content) == strip.sub(b"", unknown.content)
    assert list(Delivery.objects.values_list("recipient", flat=True)) == ["new@example.com"]


def test_subscribing_is_throttled_per_address(workspace, changelog):
    with override_settings(BOARD_THROTTLE_PER_EMAIL=2):
        answers = [
            Client(REMOTE_ADDR=f"10.0.0.{n}")
            .post(f"/p/{workspace.slug}/changelog/subscribe/", {"email": "victim@example.com"})
            .status_code
            for n in range(3)
        ]
    assert answers == [302, 302, 429]
    assert Delivery.objects.count() == 2


def test_bad_subscribe_requests_write_nothing(workspace, changelog):
    client = Client()
    invalid = client.post(f"/p/{workspace.slug}/changelog/subscribe/", {"email": "not-an-email"})
    spam = client.post(
        f"/p/{workspace.slug}/changelog/subscribe/", {"email": "bot@example.com", "website": "http://spam"}
    )
    get = client.get(f"/p/{workspace.slug}/changelog/subscribe/")
    ChangelogSettings.objects.update(enabled=False)
    off = client.post(f"/p/{workspace.slug}/changelog/subscribe/", {"email": "pat@example.com"})

    assert invalid.status_code == 400
    assert b"Enter a valid email address." in invalid.content
    assert (spam.status_code, spam["Location"]) == (302, f"/p/{workspace.slug}/changelog/")
    assert (get.status_code, off.status_code) == (405, 404)
    assert (Stakeholder.objects.count(), Delivery.objects.count()) == (0, 0)


def test_the_pages_work_with_the_board_on_and_show_its_navigation(workspace, stakeholder):
    BoardSettingsFactory(workspace=workspace, title="Acme ideas")
    page = Client().get(_path(links.stakeholder_links(stakeholder)["preferences"]))
    assert page.status_code == 200
    assert b"Acme ideas" in page.content
    assert f'href="/p/{workspace.slug}/roadmap/"'.encode() in page.content
    assert AuditEvent.objects.count() == 0  # showing the page wrote nothing
