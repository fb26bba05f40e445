"""The customer page (a 360° view) and the staff list: what each panel shows, its cost, and
who may change what."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from campaigns.tests.factories import CampaignFactory, redemption_make
from commerce.models import OrderStatus
from commerce.tests.factories import OrderFactory
from loyalty.services.ledger import points_adjust
from loyalty.tests.factories import program_make
from notifications.models import Delivery, Message
from segments.models import CustomerMembership
from segments.tests.factories import StaticSegmentFactory

pytestmark = pytest.mark.django_db


def page_of(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def history(customer: User, size: int, programs: list) -> None:
    """``size`` of everything: orders, ledger lines per program, segments, redemptions, messages."""
    for n in range(size):
        OrderFactory(customer=customer, external_id=f"O-{customer.pk}-{n}")
        for program in programs:
            points_adjust(customer=customer, program_id=program.pk, points=10 + n, reason="goodwill", by=None)
        CustomerMembership.objects.create(
            segment=StaticSegmentFactory(name=f"Segment {customer.pk}-{n}"), customer=customer
        )
        redemption_make(customer=customer, campaign=CampaignFactory(), order_id=f"R-{customer.pk}-{n}")
        message = Message.objects.create(key=f"m-{customer.pk}-{n}", source_type="promotion", title=f"Sale {n}")
        Delivery.objects.create(message=message, recipient=customer, channel="EMAIL", status="SENT", title=f"Sale {n}")


def test_the_page_shows_orders_spend_points_segments_redemptions_and_messages(console):
    program = program_make(name="Rewards")
    asha = UserFactory(email="asha@example.com", first_name="Asha", marketing_email=True, marketing_sms=False)
    OrderFactory(customer=asha, external_id="O-1")
    OrderFactory(customer=asha, external_id="O-2")
    OrderFactory(customer=asha, external_id="O-CANCELLED", status=OrderStatus.CANCELLED)
    points_adjust(customer=asha, program_id=program.pk, points=120, reason="welcome", by=None)
    CustomerMembership.objects.create(segment=StaticSegmentFactory(name="Big spenders"), customer=asha)
    redemption_make(customer=asha, campaign=CampaignFactory(name="Diwali 10%"), order_id="O-2", amount="25.00")
    message = Message.objects.create(key="m-1", source_type="promotion", title="Monsoon sale")
    Delivery.objects.create(message=message, recipient=asha, channel="EMAIL", status="READ", read_at=timezone.now())

    page = console.get(page_of(asha)).content.decode()

    assert 'data-testid="customer-360"' in page
    orders = asha.orders.exclude(status=OrderStatus.CANCELLED)
    spend = sum(order.total for order in orders)
    assert f'data-testid="customer-360-spend">{spend}<' in page
    assert 'data-testid="customer-360-order-count">2<' in page  # the cancelled order does not count
    assert page.count('data-testid="customer-360-order"') == 3 and "O-CANCELLED" in page and "All 3 order(s)" in page
    assert 'data-testid="customer-360-balance">120<' in page and "Rewards" in page
    assert 'data-testid="customer-360-pending">0<' in page
    assert page.count('data-testid="customer-360-ledger-line"') == 1
    assert "Big spenders" in page
    assert "Diwali 10%" in page and "25.00" in page
    assert "Monsoon sale" in page and 'data-testid="customer-360-message"' in page
    assert 'data-testid="consent-email">Yes<' in page and 'data-testid="consent-sms">No<' in page


def test_the_page_costs_the_same_queries_whatever_the_customers_history(console):
    programs = [program_make(name="Rewards"), program_make(name="Club")]
    small, large = UserFactory(email="small@example.com"), UserFactory(email="large@example.com")
    history(small, 1, programs)
    history(large, 12, programs)
    console.get(page_of(small))  # warm per-process copies (the loyalty snapshot)

    with CaptureQueriesContext(connection) as base:
        assert console.get(page_of(small)).status_code == 200
    with CaptureQueriesContext(connection) as big:
        page = console.get(page_of(large)).content.decode()

    assert len(big) == len(base), [q["sql"][:120] for q in big.captured_queries]
    assert page.count('data-testid="customer-360-ledger-line"') == 2 * 5  # the latest 5 per program
    assert page.count('data-testid="customer-360-order"') == 10


def test_the_page_stays_within_its_query_budget(console, django_assert_max_num_queries):
    programs = [program_make(name="Rewards")]
    asha = UserFactory(email="asha@example.com")
    history(asha, 15, programs)
    console.get(page_of(asha))

    with django_assert_max_num_queries(40):
        assert console.get(page_of(asha)).status_code == 200


def test_a_customers_page_has_no_permission_picker_and_the_list_holds_customers_only(console):
    asha = UserFactory(email="asha@example.com")
    UserFactory(email="staff@example.com", is_staff=True)
    UserFactory(email="boss@example.com", role="ADMIN")

    page = console.get(page_of(asha)).content.decode()
    listing = console.get(reverse("admin:accounts_user_changelist")).content.decode()

    assert 'name="user_permissions"' not in page and 'name="groups"' not in page and 'name="is_superuser"' not in page
    assert 'name="is_staff"' in page  # a superuser may still let a customer in
    assert "asha@example.com" in listing and "staff@example.com" not in listing and "boss@example.com" not in listing
    assert (
        console.get(
            reverse("admin:accounts_user_change", args=[User.objects.get(email="staff@example.com").pk])
        ).status_code
        == 302
    )


def test_staff_accounts_are_listed_for_superusers_with_their_access_fields(console):
    staff = UserFactory(email="staff@example.com", is_staff=True)
    UserFactory(email="asha@example.com")

    listing = console.get(reverse("admin:console_staffuser_changelist")).content.decode()
    page = console.get(reverse("admin:console_staffuser_change", args=[staff.pk])).content.decode()

    assert "staff@example.com" in listing and "asha@example.com" not in listing
    assert 'name="user_permissions"' in page and 'name="groups"' in page


def test_a_marketer_cannot_open_the_staff_list(marketer_console):
    assert marketer_console.get(reverse("admin:console_staffuser_changelist")).status_code == 403


def test_a_marketer_edits_the_profile_but_not_access_fields(marketer_console):
    asha = UserFactory(email="asha@example.com", first_name="Asha")

    page = marketer_console.get(page_of(asha)).content.decode()
    response = marketer_console.post(
        page_of(asha),
        {"first_name": "Asha M", "last_name": "", "phone": "", "country": "IN", "state": "", "city": "",
         "marketing_email": "on", "is_staff": "on", "is_active": "", "role": "ADMIN", "email": "evil@example.com"},
    )  # fmt: skip

    assert 'data-testid="customer-360"' in page and 'name="is_staff"' not in page and 'name="email"' not in page
    assert response.status_code == 302, response.content.decode()[:2000]
    asha.refresh_from_db()
    assert asha.first_name == "Asha M" and asha.marketing_email
    assert (asha.is_staff, asha.is_active, asha.role, asha.email) == (False, True, "USER", "asha@example.com")
    password = reverse("admin:auth_user_password_change", args=[asha.pk]).replace("auth", "accounts")
    assert marketer_console.get(password).status_code == 403


def test_an_analyst_reads_the_page_without_any_save_button(analyst_console):
    asha = UserFactory(email="asha@example.com")

    response = analyst_console.get(page_of(asha))
    refused = analyst_console.post(page_of(asha), {"first_name": "Changed"})

    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="customer-360"' in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert refused.status_code == 403
    asha.refresh_from_db()
    assert asha.first_name != "Changed"
