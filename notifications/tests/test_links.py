"""The tracked CTA redirect and the one-click unsubscribe."""

import pytest
from django.test import Client

from notifications.models import Channel, Delivery, DeliveryStatus, Preference
from notifications.services.links import click_url, unsubscribe_url
from notifications.tests.factories import CustomerFactory, send

pytestmark = pytest.mark.django_db


def _path(url: str) -> str:
    return url.removeprefix("https://lms.example.com")


@pytest.fixture
def mailed(mailoutbox, django_capture_on_commit_callbacks):
    person = CustomerFactory()
    send(django_capture_on_commit_callbacks, people=[person], channels=[Channel.EMAIL, Channel.IN_APP])
    return Delivery.objects.get(channel=Channel.EMAIL)


def test_a_click_records_the_delivery_and_redirects_to_its_own_link(mailed):
    response = Client().get(_path(click_url(mailed.pk)))

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/sale?utm=mail"
    mailed.refresh_from_db()
    assert mailed.status == DeliveryStatus.CLICKED and mailed.clicked_at is not None
    first = mailed.clicked_at

    Client().get(_path(click_url(mailed.pk)))  # a second click keeps the first time
    mailed.refresh_from_db()
    assert mailed.clicked_at == first


def test_the_link_in_the_mail_is_the_tracked_one(mailed, mailoutbox):
    html = mailoutbox[0].alternatives[0][0]
    assert f'href="{click_url(mailed.pk)}"' in html


@pytest.mark.parametrize("tamper", ["other-id", "bad-signature", "truncated", "unsubscribe-token"])
def test_a_tampered_click_link_is_a_404_page_and_records_nothing(mailed, tamper):
    good = _path(click_url(mailed.pk)).removeprefix("/n/c/")
    token = {
        "other-id": good.replace(f"{mailed.pk}:", f"{mailed.pk + 1}:"),
        "bad-signature": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "truncated": good[:-10],
        "unsubscribe-token": _path(unsubscribe_url(mailed.pk)).removeprefix("/n/u/"),  # another salt
    }[tamper]

    response = Client().get(f"/n/c/{token}?next=https://evil.example.com")

    assert response.status_code == 404
    assert b"This link does not work" in response.content
    mailed.refresh_from_db()
    assert mailed.clicked_at is None and mailed.status == DeliveryStatus.SENT


def test_no_open_redirect_through_query_or_path(mailed):
    response = Client().get(_path(click_url(mailed.pk)) + "?url=https://evil.example.com&next=//evil.example.com")
    assert response["Location"] == "https://shop.example.com/sale?utm=mail"


def test_a_click_on_a_skipped_delivery_does_not_make_it_delivered(mailed):
    Delivery.objects.filter(pk=mailed.pk).update(status=DeliveryStatus.SKIPPED)
    assert Client().get(_path(click_url(mailed.pk))).status_code == 302
    mailed.refresh_from_db()
    assert mailed.status == DeliveryStatus.SKIPPED and mailed.clicked_at is not None


def test_unsubscribe_get_shows_a_button_and_changes_nothing(mailed):
    response = Client().get(_path(unsubscribe_url(mailed.pk)))

    assert response.status_code == 200
    assert b'<form method="post">' in response.content and mailed.recipient.email.encode() in response.content
    mailed.recipient.refresh_from_db()
    assert mailed.recipient.marketing_email is True


def test_one_click_unsubscribe_post_turns_the_channels_consent_off(mailed):
    # As a mail client sends it (RFC 8058): a POST without a CSRF token.
    client = Client(enforce_csrf_checks=True)
    response = client.post(_path(unsubscribe_url(mailed.pk)), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    person = mailed.recipient
    person.refresh_from_db()
    assert (person.marketing_email, person.marketing_sms, person.marketing_push) == (False, True, True)
    mailed.refresh_from_db()
    first = mailed.unsubscribed_at
    assert first is not None

    assert client.post(_path(unsubscribe_url(mailed.pk))).status_code == 200  # again: nothing changes
    mailed.refresh_from_db()
    assert mailed.unsubscribed_at == first
    again = Client().get(_path(unsubscribe_url(mailed.pk)))
    assert b"already receives no marketing email" in again.content


def test_unsubscribing_from_the_inbox_turns_in_app_marketing_off(mailed):
    in_app = Delivery.objects.get(channel=Channel.IN_APP)
    assert Client().post(_path(unsubscribe_url(in_app.pk))).status_code == 200
    assert Preference.objects.get(user=in_app.recipient).in_app is False


def test_a_tampered_unsubscribe_link_is_a_404_page(mailed):
    token = _path(unsubscribe_url(mailed.pk)).removeprefix("/n/u/")
    response = Client().post(f"/n/u/{token[:-3]}xyz")
    assert response.status_code == 404
    mailed.recipient.refresh_from_db()
    assert mailed.recipient.marketing_email is True


def test_the_links_answer_only_their_methods(mailed):
    assert Client().post(_path(click_url(mailed.pk))).status_code == 405
    assert Client().put(_path(unsubscribe_url(mailed.pk))).status_code == 405
