"""Customers' own unique codes: codes_assign / codes_assign_segment, the owner-only rule in
evaluate and redemptions, POST /api/v1/campaigns/{id}/codes/assign, and customer_codes."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from campaigns.models import CouponCode, Redemption
from campaigns.selectors import customer_codes
from campaigns.services import code_assignment
from campaigns.services.code_assignment import CodeAssignment, codes_assign, codes_assign_segment
from campaigns.services.redemptions import _consume_code
from campaigns.tests.factories import CampaignFactory, coded_cart
from conftest import client_with_key
from lms.errors import Conflict, Invalid, NotFound
from lms.testing import assert_error
from segments.models import CustomerMembership
from segments.tests.factories import CustomerFactory, ProductSegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/cart/evaluate"
REDEEM = "/api/v1/redemptions"


def assign_url(campaign) -> str:
    return f"/api/v1/campaigns/{campaign.pk}/codes/assign"


def unique_campaign(codes: int = 0, **extra):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE", **extra)
    CouponCode.objects.bulk_create(
        [CouponCode(campaign=campaign, code=f"C{campaign.pk}X{i:05d}") for i in range(codes)]
    )
    return campaign


def customers(count: int, prefix: str = "c") -> list:
    return [CustomerFactory(email=f"{prefix}{i}@example.com") for i in range(count)]


def holders(campaign) -> dict[int, str]:
    return dict(
        CouponCode.objects.filter(campaign=campaign, assigned_to__isnull=False).values_list("assigned_to_id", "code")
    )


def segment_of(people):
    segment = StaticSegmentFactory()
    CustomerMembership.objects.bulk_create([CustomerMembership(segment=segment, customer=p) for p in people])
    return segment


# --- The service -------------------------------------------------------------------------------


def test_each_listed_customer_gets_one_free_code_and_a_rerun_gives_nobody_a_second():
    campaign = unique_campaign(codes=5)
    people = customers(3)

    first = codes_assign(campaign=campaign, customer_ids=[p.pk for p in people])
    again = codes_assign(campaign=campaign, customer_ids=[p.pk for p in people])

    assert first == CodeAssignment(assigned=3, already_held=0, short=0)
    assert again == CodeAssignment(assigned=0, already_held=3, short=0)
    held = holders(campaign)
    assert set(held) == {p.pk for p in people} and len(set(held.values())) == 3
    assert not CouponCode.objects.filter(assigned_to__isnull=False, assigned_at__isnull=True).exists()
    assert CouponCode.objects.filter(campaign=campaign, assigned_to__isnull=True).count() == 2


def test_a_shortfall_is_reported_and_a_rerun_after_more_codes_fills_it():
    campaign = unique_campaign(codes=2)
    people = customers(5)

    short = codes_assign(campaign=campaign, customer_ids=[p.pk for p in people])
    assert short == CodeAssignment(assigned=2, already_held=0, short=3)
    assert set(holders(campaign)) == {p.pk for p in sorted(people, key=lambda p: p.pk)[:2]}  # lowest ids first

    CouponCode.objects.bulk_create([CouponCode(campaign=campaign, code=f"MORE{i}") for i in range(3)])
    filled = codes_assign(campaign=campaign, customer_ids=[p.pk for p in people])

    assert filled == CodeAssignment(assigned=3, already_held=2, short=0)
    assert set(holders(campaign)) == {p.pk for p in people}


def test_used_codes_and_codes_given_before_are_never_handed_out():
    campaign = unique_campaign()
    used = CouponCode.objects.create(campaign=campaign, code="USED1", uses=1)
    orphan = CouponCode.objects.create(campaign=campaign, code="ORPHAN1", assigned_at=timezone.now())  # holder gone
    free = CouponCode.objects.create(campaign=campaign, code="FREE1")
    people = customers(2)

    result = codes_assign(campaign=campaign, customer_ids=[p.pk for p in people])

    assert result == CodeAssignment(assigned=1, already_held=0, short=1)
    assert list(holders(campaign).values()) == [free.code]
    used.refresh_from_db(), orphan.refresh_from_db()
    assert used.assigned_to_id is None and orphan.assigned_to_id is None


def test_a_customer_holding_a_used_code_already_holds_one():
    campaign = unique_campaign(codes=2)
    person = CustomerFactory()
    codes_assign(campaign=campaign, customer_ids=[person.pk])
    CouponCode.objects.filter(assigned_to=person).update(uses=1)

    assert codes_assign(campaign=campaign, customer_ids=[person.pk]) == CodeAssignment(already_held=1)


def test_codes_of_another_campaign_are_neither_given_nor_count_as_held():
    campaign, other = unique_campaign(codes=1), unique_campaign(codes=1)
    person = CustomerFactory()
    codes_assign(campaign=other, customer_ids=[person.pk])

    assert codes_assign(campaign=campaign, customer_ids=[person.pk]) == CodeAssignment(assigned=1)
    assert CouponCode.objects.filter(assigned_to=person).count() == 2


def test_the_database_refuses_a_second_code_of_a_campaign_for_one_customer():
    campaign = unique_campaign(codes=2)
    person = CustomerFactory()
    first, second = CouponCode.objects.filter(campaign=campaign)
    CouponCode.objects.filter(pk=first.pk).update(assigned_to=person, assigned_at=timezone.now())

    with pytest.raises(IntegrityError), transaction.atomic():
        CouponCode.objects.filter(pk=second.pk).update(assigned_to=person, assigned_at=timezone.now())


def test_the_database_refuses_a_holder_without_a_time():
    campaign = unique_campaign(codes=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        CouponCode.objects.filter(campaign=campaign).update(assigned_to=CustomerFactory())


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"redemption_type": "COUPON_CODE", "code_type": "SHARED", "code": "SHARED1"}, "campaign_not_unique_codes"),
        ({"redemption_type": "AUTOMATIC"}, "campaign_not_unique_codes"),
        ({"redemption_type": "COUPON_CODE", "code_type": "UNIQUE", "archived": True, "status": "INACTIVE"}, "campaign_archived"),
    ],
)  # fmt: skip
def test_only_a_live_unique_codes_campaign_gives_codes(extra, code):
    campaign = CampaignFactory(**extra)

    with pytest.raises(Conflict) as refused:
        codes_assign(campaign=campaign, customer_ids=[CustomerFactory().pk])
    assert refused.value.code == code
    with pytest.raises(Conflict):
        codes_assign_segment(campaign=campaign, segment=segment_of([]))


def test_ids_that_are_not_customers_are_refused_before_anything_is_given():
    campaign = unique_campaign(codes=5)
    person, staff = CustomerFactory(), UserFactory(email="staff@example.com", is_staff=True)

    with pytest.raises(Invalid) as refused:
        codes_assign(campaign=campaign, customer_ids=[person.pk, staff.pk, 999_999])

    assert set(refused.value.details) == {"customer_ids"}
    assert "2 id(s) are not customers" in refused.value.details["customer_ids"][0]
    assert holders(campaign) == {}
    with pytest.raises(Invalid):
        codes_assign(campaign=campaign, customer_ids=[])


def test_a_deleted_campaign_is_not_found():
    campaign = unique_campaign()
    campaign_id = campaign.pk
    campaign.delete()
    campaign.pk = campaign_id

    with pytest.raises(NotFound):
        codes_assign(campaign=campaign, customer_ids=[CustomerFactory().pk])


def test_a_segment_is_walked_in_batches_and_every_member_gets_one_code(monkeypatch):
    monkeypatch.setattr(code_assignment, "BATCH", 3)
    campaign = unique_campaign(codes=10)
    people = customers(8)
    segment = segment_of(people)
    UserFactory(email="outsider@example.com")

    result = codes_assign_segment(campaign=campaign, segment=segment)
    again = codes_assign_segment(campaign=campaign, segment=segment)

    assert result == CodeAssignment(assigned=8)
    assert again == CodeAssignment(already_held=8)
    assert set(holders(campaign)) == {p.pk for p in people}


def test_segment_members_that_are_staff_get_nothing():
    campaign = unique_campaign(codes=3)
    person, staff = CustomerFactory(), UserFactory(email="staff@example.com", role="ADMIN")

    result = codes_assign_segment(campaign=campaign, segment=segment_of([person, staff]))

    assert result == CodeAssignment(assigned=1)
    assert set(holders(campaign)) == {person.pk}


def test_a_product_segment_is_refused():
    with pytest.raises(Invalid) as refused:
        codes_assign_segment(campaign=unique_campaign(codes=1), segment=ProductSegmentFactory())
    assert set(refused.value.details) == {"segment_id"}


def test_a_segment_streams_its_members_a_batch_per_query(monkeypatch, django_assert_max_num_queries):
    # Queries per batch are constant: 5 batches cost 5x a batch's queries, never a query per member.
    monkeypatch.setattr(code_assignment, "BATCH", 4)
    campaign = unique_campaign(codes=20)
    segment = segment_of(customers(20))

    # per batch: the campaign check, the members, the customer locks, the held codes, the free
    # codes, the update, plus a savepoint pair; then the last (empty) members read and the first check
    with django_assert_max_num_queries(5 * 8 + 2):
        assert codes_assign_segment(campaign=campaign, segment=segment) == CodeAssignment(assigned=20)


def test_customer_codes_names_each_holders_code_in_one_query(django_assert_num_queries):
    campaign = unique_campaign(codes=3)
    people = customers(3)
    codes_assign(campaign=campaign, customer_ids=[p.pk for p in people[:2]])

    with django_assert_num_queries(1):
        codes = customer_codes(campaign.pk, [p.pk for p in people])

    assert codes == holders(campaign) and set(codes) == {people[0].pk, people[1].pk}


# --- Only the owner uses an assigned code --------------------------------------------------------


@pytest.fixture
def owned(customer):
    campaign = unique_campaign(codes=2, rules=[{"value": Decimal("20")}])
    codes_assign(campaign=campaign, customer_ids=[customer.pk])
    return campaign, CouponCode.objects.get(assigned_to=customer).code


def test_the_owner_evaluates_their_code_and_another_customer_is_told_it_is_not_theirs(
    owned, customer_client, client_for
):
    _, code = owned
    other = client_for(CustomerFactory(email="other@example.com"))

    mine = customer_client.post(EVALUATE, coded_cart(code.lower()), format="json")
    theirs = other.post(EVALUATE, coded_cart(code), format="json")

    assert mine.status_code == 200 and mine.json()["total_discount"] == "100.00"
    assert theirs.status_code == 200 and theirs.json()["total_discount"] == "0.00"
    assert theirs.json()["rejected"] == [
        {
            "campaign_id": None,
            "code": code,
            "reason": "code_not_yours",
            "message": f"The code {code} was given to another customer; only they can use it.",
        }
    ]


def test_a_guest_cart_cannot_use_an_assigned_code(owned, integration_client):
    _, code = owned

    guest = integration_client.post(EVALUATE, coded_cart(code), format="json")

    assert [r["reason"] for r in guest.json()["rejected"]] == ["code_not_yours"]


def test_an_unassigned_code_of_the_campaign_is_still_anybodys(owned, integration_client):
    campaign, _ = owned
    free = CouponCode.objects.get(campaign=campaign, assigned_to__isnull=True)

    answer = integration_client.post(EVALUATE, coded_cart(free.code), format="json")

    assert answer.json()["total_discount"] == "100.00"


def test_anothers_code_costs_the_guessing_budget_like_an_unknown_code(owned, client_for, rates):
    rates(cart_unknown_code_customer="2/h", cart_unknown_code_ip="100/h")
    _, code = owned
    other = client_for(CustomerFactory(email="other@example.com"))

    other.post(EVALUATE, coded_cart(code), format="json")
    other.post(EVALUATE, coded_cart("NOSUCH1"), format="json")

    assert_error(other.post(EVALUATE, coded_cart("NOSUCH2"), format="json"), 429, "throttled")


def test_the_owner_redeems_their_code_and_another_customers_redemption_is_refused(owned, integration_client, customer):
    campaign, code = owned
    body = {"lines": coded_cart()["lines"], "codes": [code]}

    refused = integration_client.post(
        REDEEM, {**body, "order_id": "O-2", "customer": {"email": "other@example.com"}}, format="json"
    )
    redeemed = integration_client.post(
        REDEEM, {**body, "order_id": "O-1", "customer": {"id": customer.pk}}, format="json"
    )

    assert_error(refused, 409, "code_not_yours")
    assert redeemed.status_code == 201 and redeemed.json()["total_discount"] == "100.00"
    assert CouponCode.objects.get(code=code).uses == 1
    assert list(Redemption.objects.values_list("customer_id", "code")) == [(customer.pk, code)]


def test_a_refused_redemption_with_anothers_code_pays_the_guessing_budget(owned, integration_key, rates):
    rates(cart_unknown_code_key="1/h", cart_unknown_code_customer="100/h")
    _, code = owned
    client = client_with_key(integration_key)
    body = {"lines": coded_cart()["lines"], "customer": {"email": "other@example.com"}}

    assert_error(
        client.post(REDEEM, {**body, "order_id": "O-1", "codes": [code]}, format="json"), 409, "code_not_yours"
    )
    assert_error(client.post(REDEEM, {**body, "order_id": "O-2", "codes": ["X1"]}, format="json"), 429, "throttled")


def test_a_code_given_to_another_after_the_cart_was_judged_is_not_consumed(owned, customer):
    # The conditional update of the redemption: the engine judged the code free, then
    # codes_assign gave it away before the redemption consumed it.
    campaign, _ = owned
    free = CouponCode.objects.get(campaign=campaign, assigned_to__isnull=True)
    CouponCode.objects.filter(pk=free.pk).update(assigned_to=CustomerFactory(), assigned_at=timezone.now())
    applied = type("Applied", (), {"code": free.code})()

    with pytest.raises(Conflict) as refused:
        _consume_code(free.pk, applied, customer)

    assert refused.value.code == "code_not_yours"
    free.refresh_from_db()
    assert free.uses == 0


def test_a_code_whose_holder_is_erased_is_out_of_circulation(owned, customer, integration_client):
    campaign, code = owned
    customer.delete()

    row = CouponCode.objects.get(code=code)
    assert row.assigned_to_id is None and row.assigned_at is not None
    answer = integration_client.post(EVALUATE, coded_cart(code), format="json")
    assert [r["reason"] for r in answer.json()["rejected"]] == ["code_not_yours"]
    newcomer = CustomerFactory(email="new@example.com")
    codes_assign(campaign=campaign, customer_ids=[newcomer.pk])
    assert CouponCode.objects.get(assigned_to=newcomer).code != code


# --- The API -------------------------------------------------------------------------------------


def test_an_admin_assigns_codes_to_listed_customers(admin_client):
    campaign = unique_campaign(codes=3)
    people = customers(2)

    response = admin_client.post(assign_url(campaign), {"customer_ids": [p.pk for p in people]}, format="json")
    again = admin_client.post(assign_url(campaign), {"customer_ids": [p.pk for p in people]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"assigned": 2, "already_held": 0, "short": 0}
    assert again.json() == {"assigned": 0, "already_held": 2, "short": 0}


def test_an_admin_assigns_codes_to_a_segment_and_hears_the_shortfall(admin_client):
    campaign = unique_campaign(codes=2)
    segment = segment_of(customers(3))

    response = admin_client.post(assign_url(campaign), {"segment_id": segment.pk}, format="json")

    assert response.status_code == 200
    assert response.json() == {"assigned": 2, "already_held": 0, "short": 1}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "segment_id"),
        ({"segment_id": 1, "customer_ids": [1]}, "customer_ids"),
        ({"customer_ids": []}, "customer_ids"),
        ({"customer_ids": ["x"]}, "customer_ids"),
        ({"customer_ids": [0]}, "customer_ids"),
        ({"customer_ids": "1,2"}, "customer_ids"),
        ({"customer_ids": list(range(1, 10_002))}, "customer_ids"),
        ({"segment_id": "one"}, "segment_id"),
        ({"segment_id": 2**63}, "segment_id"),
        ({"segment_id": 5, "extra": 1}, "extra"),
    ],
)
def test_a_bad_body_is_400_naming_the_field(admin_client, body, field):
    campaign = unique_campaign(codes=1)

    error = assert_error(admin_client.post(assign_url(campaign), body, format="json"), 400, "validation_error")

    assert any(path.split("[")[0] == field for path in error["details"]), error


def test_an_unknown_segment_or_customer_is_400_naming_the_field(admin_client):
    campaign = unique_campaign(codes=1)

    segment = assert_error(
        admin_client.post(assign_url(campaign), {"segment_id": 999_999}, format="json"), 400, "validation_error"
    )
    person = assert_error(
        admin_client.post(assign_url(campaign), {"customer_ids": [999_999]}, format="json"), 400, "validation_error"
    )
    product = assert_error(
        admin_client.post(assign_url(campaign), {"segment_id": ProductSegmentFactory().pk}, format="json"),
        400,
        "validation_error",
    )

    assert "segment_id" in segment["details"] and "segment_id" in product["details"]
    assert "customer_ids" in person["details"]


def test_a_campaign_without_unique_codes_is_409_and_no_campaign_404(admin_client):
    shared = CampaignFactory(redemption_type="COUPON_CODE", code="SHARED1")
    body = {"customer_ids": [CustomerFactory().pk]}

    assert_error(admin_client.post(assign_url(shared), body, format="json"), 409, "campaign_not_unique_codes")
    assert_error(admin_client.post("/api/v1/campaigns/999999/codes/assign", body, format="json"), 404, "not_found")
    program = CampaignFactory(kind="LOYALTY_PROGRAM")
    assert_error(admin_client.post(assign_url(program), body, format="json"), 404, "not_a_discount_campaign")


def test_customers_and_the_integration_may_not_assign_codes(customer_client, integration_client, api_client):
    campaign = unique_campaign(codes=1)
    body = {"customer_ids": [CustomerFactory().pk]}

    assert customer_client.post(assign_url(campaign), body, format="json").status_code == 403
    assert integration_client.post(assign_url(campaign), body, format="json").status_code in (401, 403)
    assert api_client.post(assign_url(campaign), body, format="json").status_code == 401
    assert holders(campaign) == {}


def test_the_codes_list_shows_and_filters_by_the_holder(admin_client):
    campaign = unique_campaign(codes=3)
    person = CustomerFactory()
    codes_assign(campaign=campaign, customer_ids=[person.pk])
    url = f"/api/v1/campaigns/discounts/{campaign.pk}/codes"

    held = admin_client.get(url, {"assigned": "true"}).json()["results"]
    free = admin_client.get(url, {"assigned": "false"}).json()["results"]
    theirs = admin_client.get(url, {"assigned_to": person.pk}).json()["results"]

    assert [row["assigned_to"] for row in held] == [person.pk] and held[0]["assigned_at"]
    assert len(free) == 2 and {row["assigned_to"] for row in free} == {None}
    assert theirs == held
    assert_error(admin_client.get(url, {"assigned": "maybe"}), 400, "validation_error")
    assert (
        "assigned_to" in assert_error(admin_client.get(url, {"assigned_to": "abc"}), 400, "validation_error")["details"]
    )


# --- The console ---------------------------------------------------------------------------------


def _action(console, name: str, campaigns, **extra):
    from django.urls import reverse

    body = {"action": name, "_selected_action": [c.pk for c in campaigns], **extra}
    return console.post(reverse("admin:campaigns_campaign_changelist"), body)


def _messages(console) -> list[str]:
    from django.urls import reverse

    response = console.get(reverse("admin:campaigns_campaign_changelist"))
    return [str(message) for message in response.context["messages"]]


def test_the_console_assigns_codes_to_a_segment_after_asking_which(console):
    campaign = unique_campaign(codes=2)
    segment = segment_of(customers(3))

    asked = _action(console, "assign_codes", [campaign])
    done = _action(console, "assign_codes", [campaign], apply="1", segment=str(segment.pk))

    assert asked.status_code == 200 and list(asked.context["form"].fields) == ["segment"]
    assert ProductSegmentFactory().pk not in [s.pk for s in asked.context["form"].fields["segment"].queryset]
    assert done.status_code == 302
    assert len(holders(campaign)) == 2
    message = _messages(console)[0]
    assert "2 customer(s) given a code" in message and "1 left without one" in message


def test_the_console_says_why_a_shared_code_campaign_gives_no_codes(console):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code="SHARED1")
    segment = segment_of(customers(1))

    _action(console, "assign_codes", [campaign], apply="1", segment=str(segment.pk))

    assert "has no unique codes to give" in _messages(console)[0]


def test_the_console_codes_list_shows_who_holds_a_code_and_finds_it_by_their_email(console):
    from django.urls import reverse

    campaign = unique_campaign(codes=2)
    person = CustomerFactory(email="holder@example.com")
    codes_assign(campaign=campaign, customer_ids=[person.pk])
    changelist = reverse("admin:campaigns_couponcode_changelist")

    page = console.get(changelist)
    found = console.get(changelist, {"q": "Holder@Example.com"})
    free = console.get(changelist, {"held": "no"})

    assert "holder@example.com" in page.content.decode()
    assert [c.assigned_to_id for c in found.context["cl"].result_list] == [person.pk]
    assert [c.assigned_to_id for c in free.context["cl"].result_list] == [None]
    change = console.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "1 given to customers" in change.content.decode()


def test_staff_need_the_change_coupon_code_permission(client_for):
    from django.contrib.auth.models import Permission

    campaign = unique_campaign(codes=1)
    body = {"customer_ids": [CustomerFactory().pk]}
    staff = UserFactory(email="marketer@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_couponcode"))

    assert client_for(staff).post(assign_url(campaign), body, format="json").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_couponcode"))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached on the instance
    assert client_for(staff).post(assign_url(campaign), body, format="json").status_code == 200


# --- The command ---------------------------------------------------------------------------------


def test_the_command_assigns_a_segment_and_says_who_was_left_without_a_code():
    from io import StringIO

    from django.core.management import call_command

    campaign = unique_campaign(codes=2)
    segment = segment_of(customers(3))
    out, err = StringIO(), StringIO()

    call_command("assign_codes", str(campaign.pk), str(segment.pk), stdout=out, stderr=err)

    assert "2 given a code, 0 already held one, 1 left without one" in out.getvalue()
    assert "1 member(s) got no code" in err.getvalue()
    assert len(holders(campaign)) == 2


def test_the_command_refuses_an_unknown_campaign_segment_or_a_shared_code_campaign():
    from django.core.management import CommandError, call_command

    campaign, segment = unique_campaign(codes=1), segment_of([])
    shared = CampaignFactory(redemption_type="COUPON_CODE", code="SHARED1")

    with pytest.raises(CommandError, match="No campaign"):
        call_command("assign_codes", "999999", str(segment.pk))
    with pytest.raises(CommandError, match="No segment"):
        call_command("assign_codes", str(campaign.pk), "999999")
    with pytest.raises(CommandError, match="campaign_not_unique_codes"):
        call_command("assign_codes", str(shared.pk), str(segment.pk))
