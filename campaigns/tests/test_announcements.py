"""A campaign switched on announces itself: once, to its audience and geography, with its
content checked when it is saved."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from campaigns.models import Campaign, CouponCode
from campaigns.services.announcements import campaign_audience, campaign_audience_spec
from campaigns.services.campaigns import campaign_status_set
from campaigns.tests.factories import CampaignFactory, CouponCodeFactory
from campaigns.tests.test_admin import campaign_data
from commerce.tests.factories import OrderFactory
from lms.testing import assert_error, run_concurrently
from notifications.models import Delivery, DeliveryStatus, Message
from segments.models import CustomerMembership
from segments.tests.factories import StaticSegmentFactory

pytestmark = pytest.mark.django_db

DISCOUNTS = "/api/v1/campaigns/discounts/"
CAMPAIGNS = "/api/v1/campaigns/"
NOTIFICATION = {
    "title": "{{ campaign_name }}: use {{ code }}",
    "body": "Hi {{ first_name }}, {{ code }} takes 20% off until {{ ends_on }}.",
    "channels": ["IN_APP"],
}


def body(**overrides):
    base = {
        "name": "Diwali 20",
        "starts_at": (timezone.now() - dt.timedelta(days=1)).isoformat(),
        "ends_at": (timezone.now() + dt.timedelta(days=30)).isoformat(),
        "status": "ACTIVE",
        "redemption_type": "COUPON_CODE",
        "code": "diwali20",
        "timezone": "UTC",
        "rules": [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "20"}],
        "notification": NOTIFICATION,
    }
    return {**base, **overrides}


def create(admin_client, capture, **overrides):
    with capture(execute=True):
        response = admin_client.post(DISCOUNTS, body(**overrides), format="json")
    assert response.status_code == 201, response.content
    return Campaign.objects.get(pk=response.json()["id"])


def set_status(admin_client, capture, campaign, status):
    with capture(execute=True):
        response = admin_client.patch(f"{CAMPAIGNS}{campaign.pk}/status/", {"status": status}, format="json")
    assert response.status_code == 200, response.content


def inbox(campaign) -> list[tuple[str, str, str]]:
    rows = Delivery.objects.filter(message__key=f"campaign:{campaign.pk}:announce").order_by("recipient__email")
    return [(row.recipient.email, row.status, row.title) for row in rows.select_related("recipient")]


def test_a_campaign_created_active_lands_in_every_customers_inbox_with_its_code(
    admin_client, django_capture_on_commit_callbacks
):
    for name in ("ann", "bob"):
        UserFactory(email=f"{name}@example.com", first_name=name.title())
    UserFactory(email="off@example.com", is_active=False)

    campaign = create(admin_client, django_capture_on_commit_callbacks)

    expected = ("Diwali 20: use DIWALI20", DeliveryStatus.SENT)
    assert [(email, (title, status)) for email, status, title in inbox(campaign)] == [
        ("ann@example.com", expected),
        ("bob@example.com", expected),
    ]  # the admin and the deactivated customer are no audience
    message = Message.objects.get(key=f"campaign:{campaign.pk}:announce")
    assert (message.source_type, message.source_id, message.purpose) == ("campaign", str(campaign.pk), "MARKETING")
    ends_on = campaign.ends_at.date().isoformat()
    assert Delivery.objects.get(recipient__email="ann@example.com").body == (
        f"Hi Ann, DIWALI20 takes 20% off until {ends_on}."
    )


def test_segments_and_geography_narrow_the_audience(admin_client, django_capture_on_commit_callbacks):
    people = {
        "pune": UserFactory(email="pune@example.com", country="IN", city="pune"),
        "pune-outside": UserFactory(email="pune-outside@example.com", country="IN", city="Pune"),
        "mumbai": UserFactory(email="mumbai@example.com", country="IN", city="Mumbai"),
        "no-city": UserFactory(email="no-city@example.com", country="IN", city=""),
        "dubai": UserFactory(email="dubai@example.com", country="AE", city="Pune"),
    }
    group = StaticSegmentFactory()
    for name in ("pune", "mumbai", "no-city", "dubai"):
        CustomerMembership.objects.create(segment=group, customer=people[name])

    campaign = create(
        admin_client,
        django_capture_on_commit_callbacks,
        audience="GROUPS",
        segment_ids=[group.pk],
        countries=["in"],
        cities=["PUNE"],
    )

    assert [email for email, _, _ in inbox(campaign)] == ["pune@example.com"]


@pytest.mark.parametrize(("audience", "expected"), [("NEW_USERS", ["cancelled", "new"]), ("EXISTING_USERS", ["old"])])
def test_new_and_existing_customer_audiences_are_judged_by_an_order_not_cancelled(audience, expected):
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("old", "new", "cancelled")}
    OrderFactory(customer=people["old"], status="PAID")
    OrderFactory(customer=people["cancelled"], status="CANCELLED")
    campaign = CampaignFactory(audience=audience)

    ids = campaign_audience(campaign_audience_spec(campaign), 0, 100)

    assert sorted(name for name, person in people.items() if person.pk in ids) == expected


@pytest.mark.parametrize(("audience", "expected"), [("NEW_USERS", ["new", "refunded"]), ("EXISTING_USERS", ["old"])])
def test_a_customer_whose_only_order_was_refunded_is_a_new_customer(audience, expected):
    people = {name: UserFactory(email=f"{name}@example.com") for name in ("old", "new", "refunded")}
    OrderFactory(customer=people["old"], status="FULFILLED")
    OrderFactory(customer=people["refunded"], status="REFUNDED")
    campaign = CampaignFactory(audience=audience)

    ids = campaign_audience(campaign_audience_spec(campaign), 0, 100)

    assert sorted(name for name, person in people.items() if person.pk in ids) == expected


def test_an_inactive_or_content_less_campaign_announces_nothing(admin_client, django_capture_on_commit_callbacks):
    UserFactory()

    create(admin_client, django_capture_on_commit_callbacks, status="INACTIVE", code="OFF1")
    create(admin_client, django_capture_on_commit_callbacks, code="QUIET1", notification={"title": "t", "body": "b"})

    assert not Message.objects.exists()


def test_switching_on_announces_and_switching_on_again_after_a_pause_does_not(
    admin_client, django_capture_on_commit_callbacks
):
    UserFactory(email="ann@example.com")
    campaign = create(admin_client, django_capture_on_commit_callbacks, status="INACTIVE")
    assert not Message.objects.exists()

    set_status(admin_client, django_capture_on_commit_callbacks, campaign, "ACTIVE")
    UserFactory(email="zed@example.com")  # joins after the announcement
    set_status(admin_client, django_capture_on_commit_callbacks, campaign, "INACTIVE")
    set_status(admin_client, django_capture_on_commit_callbacks, campaign, "ACTIVE")

    assert Message.objects.count() == 1
    assert [email for email, _, _ in inbox(campaign)] == ["ann@example.com"]


def test_a_campaign_switched_on_without_channels_announces_when_switched_on_with_them(
    admin_client, django_capture_on_commit_callbacks
):
    UserFactory(email="ann@example.com")
    campaign = create(admin_client, django_capture_on_commit_callbacks, notification={"title": "t", "body": "b"})
    set_status(admin_client, django_capture_on_commit_callbacks, campaign, "INACTIVE")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.patch(
            f"{CAMPAIGNS}{campaign.pk}/", {"notification": {"channels": ["IN_APP"]}, "status": "ACTIVE"},
            format="json",
        )  # fmt: skip

    assert response.status_code == 200, response.content
    assert inbox(campaign) == [("ann@example.com", DeliveryStatus.SENT, "t")]


def test_editing_a_live_campaign_sends_nothing(admin_client, django_capture_on_commit_callbacks):
    UserFactory()
    campaign = create(admin_client, django_capture_on_commit_callbacks, notification={"title": "t", "body": "b"})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.patch(f"{CAMPAIGNS}{campaign.pk}/", {"notification": NOTIFICATION}, format="json")

    assert response.status_code == 200, response.content
    assert not Message.objects.exists()


def test_an_ended_campaign_switched_on_announces_nothing(django_capture_on_commit_callbacks):
    UserFactory()
    ended = CampaignFactory(
        status="INACTIVE", starts_at=timezone.now() - dt.timedelta(days=9), ends_at=timezone.now() - dt.timedelta(days=1),
        notify_title="t", notify_body="b", notify_channels=["IN_APP"],
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        campaign_status_set(campaign=ended, status="ACTIVE")

    assert not Message.objects.exists()


def test_stored_content_that_cannot_be_sent_blocks_neither_a_change_nor_the_switch(
    admin_client, django_capture_on_commit_callbacks
):
    UserFactory()
    old = CampaignFactory(status="INACTIVE", notify_title="t", notify_body="{{ nope }}", notify_channels=["IN_APP"])

    response = admin_client.patch(f"{CAMPAIGNS}{old.pk}/", {"priority": 5}, format="json")
    assert response.status_code == 200, response.content
    set_status(admin_client, django_capture_on_commit_callbacks, old, "ACTIVE")

    old.refresh_from_db()
    assert (old.priority, old.status) == (5, "ACTIVE")
    assert not Message.objects.exists()  # skipped, with a warning in the log


BAD_CONTENT = [
    ({"title": "{{ code", "body": "b", "channels": ["IN_APP"]}, "notification.title"),
    ({"title": "t", "body": "{{ password }}", "channels": ["IN_APP"]}, "notification.body"),
    ({"title": "t", "body": "You have {{ points_balance }} points", "channels": ["IN_APP"]}, "notification.body"),
    ({"title": "t", "body": "b", "cta_text": "Go", "cta_url": "javascript:alert(1)"}, "notification.cta_url"),
    ({"title": "t", "body": "b", "cta_text": "Go", "cta_url": "ftp://example.com/x"}, "notification.cta_url"),
    ({"title": "t", "body": "b", "image_url": "data:image/png;base64,AAAA"}, "notification.image_url"),
    ({"title": "", "body": "b", "channels": ["IN_APP"]}, "notification.title"),
    ({"title": "t", "body": "b", "channels": ["FAX"]}, "notification.channels[0]"),
]


@pytest.mark.parametrize(("notification", "field"), BAD_CONTENT)
def test_content_that_could_not_be_sent_is_a_400_naming_the_field_at_create(admin_client, notification, field):
    response = admin_client.post(DISCOUNTS, body(notification=notification), format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    assert not Campaign.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize(("notification", "field"), BAD_CONTENT)
def test_content_that_could_not_be_sent_is_a_400_naming_the_field_at_update(admin_client, notification, field):
    campaign = CampaignFactory(status="INACTIVE", notify_title="Sale", notify_body="On now")

    response = admin_client.patch(
        f"{CAMPAIGNS}{campaign.pk}/", {"notification": notification, "status": "ACTIVE"}, format="json"
    )

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    campaign.refresh_from_db()
    assert (campaign.status, campaign.notify_title, campaign.notify_body) == ("INACTIVE", "Sale", "On now")
    assert not Message.objects.exists()


# --- Send each customer their own code -------------------------------------------------------------


def distribute(admin_client, capture, campaign, segment):
    with capture(execute=True):
        return admin_client.post(
            f"{CAMPAIGNS}{campaign.pk}/codes/distribute", {"segment_id": segment.pk}, format="json"
        )


def test_each_member_of_a_segment_gets_their_own_code_in_their_inbox_once(
    admin_client, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(
        redemption_type="COUPON_CODE", code_type="UNIQUE", notify_title="Your code: {{ code }}",
        notify_body="Hi {{ first_name }}, {{ code }} is yours.", notify_channels=["IN_APP"],
    )  # fmt: skip
    for code in ("AAA111", "BBB222", "CCC333"):
        CouponCodeFactory(campaign=campaign, code=code)
    group = StaticSegmentFactory()
    people = [UserFactory(email=f"{name}@example.com") for name in ("ann", "bob")]
    outsider = UserFactory(email="out@example.com")
    for person in people:
        CustomerMembership.objects.create(segment=group, customer=person)

    response = distribute(admin_client, django_capture_on_commit_callbacks, campaign, group)

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("assigned", "already_held", "short")} == {
        "assigned": 2, "already_held": 0, "short": 0,
    }  # fmt: skip
    held = dict(CouponCode.objects.filter(assigned_to__isnull=False).values_list("assigned_to__email", "code"))
    rows = Delivery.objects.filter(message_id=response.json()["message_id"]).select_related("recipient")
    assert sorted((r.recipient.email, r.status, r.title) for r in rows) == [
        ("ann@example.com", DeliveryStatus.SENT, f"Your code: {held['ann@example.com']}"),
        ("bob@example.com", DeliveryStatus.SENT, f"Your code: {held['bob@example.com']}"),
    ]
    assert held["ann@example.com"] != held["bob@example.com"]

    # A new member and a second run: only the newcomer is given a code and told.
    late = UserFactory(email="cat@example.com")
    CustomerMembership.objects.create(segment=group, customer=late)
    again = distribute(admin_client, django_capture_on_commit_callbacks, campaign, group)

    assert again.status_code == 200, again.content
    assert (again.json()["assigned"], again.json()["already_held"]) == (1, 2)
    told = Delivery.objects.filter(message_id=again.json()["message_id"]).values_list("recipient__email", flat=True)
    assert list(told) == ["cat@example.com"]
    assert not Delivery.objects.filter(recipient=outsider).exists()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": "INACTIVE"}, "campaign_inactive"),
        ({"notify_channels": []}, "notification_missing"),
        ({"notify_body": "{{ nope }}"}, "notification_invalid"),
        ({"code_type": "SHARED", "code": "SHARED1"}, "campaign_not_unique_codes"),
        # Still switched on, but over: codes nobody could use any more.
        (
            {"starts_at": timezone.now() - dt.timedelta(days=9), "ends_at": timezone.now() - dt.timedelta(days=1)},
            "campaign_ended",
        ),
    ],
)
def test_codes_are_not_given_out_when_they_could_not_be_sent(
    admin_client, django_capture_on_commit_callbacks, fields, code
):
    values = {"redemption_type": "COUPON_CODE", "code_type": "UNIQUE", "notify_title": "t",
              "notify_body": "{{ code }}", "notify_channels": ["IN_APP"], **fields}  # fmt: skip
    campaign = CampaignFactory(**values)
    CouponCodeFactory(campaign=campaign, code="AAA111")
    group = StaticSegmentFactory()
    CustomerMembership.objects.create(segment=group, customer=UserFactory())

    response = distribute(admin_client, django_capture_on_commit_callbacks, campaign, group)

    assert_error(response, 409, code)
    assert not CouponCode.objects.filter(assigned_to__isnull=False).exists()
    assert not Message.objects.exists()


def test_distributing_to_an_unknown_segment_is_a_400_naming_it(admin_client):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")

    response = admin_client.post(f"{CAMPAIGNS}{campaign.pk}/codes/distribute", {"segment_id": 999999}, format="json")

    assert "segment_id" in assert_error(response, 400, "validation_error")["details"]


# --- The console and a race -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"notify_title": "t", "notify_body": "{{ points_balance }}"}, "notify_body"),
        ({"notify_title": "{{ t", "notify_body": "b"}, "notify_title"),
        ({"notify_title": "", "notify_body": "b"}, "notify_title"),
    ],
)
def test_the_console_shows_content_that_could_not_be_sent_on_its_field(client, fields, where):
    client.force_login(User.objects.create_superuser(email="root@example.com", password="Root-Password-1"))
    data = campaign_data([{"value": "10"}], notify_channels=["IN_APP"], **fields)

    response = client.post(reverse("admin:campaigns_campaign_add"), data)

    assert response.status_code == 200
    assert where in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_switches_on_at_once_announce_once():
    UserFactory(email="ann@example.com")
    campaign = CampaignFactory(status="INACTIVE", notify_title="t", notify_body="b", notify_channels=["IN_APP"])

    run_concurrently(2, lambda _: campaign_status_set(campaign=campaign, status="ACTIVE"))

    assert Message.objects.count() == 1
    assert inbox(campaign) == [("ann@example.com", DeliveryStatus.SENT, "t")]
