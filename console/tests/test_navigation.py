import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from console.groups import ANALYST, MARKETER, groups_sync

pytestmark = pytest.mark.django_db

SYSTEM_URLS = [
    "/admin/accounts/emailotp/",
    "/admin/accounts/loginevent/",
    "/admin/rest_framework_api_key/apikey/",
    "/admin/token_blacklist/outstandingtoken/",
    "/admin/token_blacklist/blacklistedtoken/",
    "/admin/auth/group/",
]


def test_the_root_and_the_console_say_lms_console(console):
    assert console.get("/").url == reverse("admin:index")
    page = console.get(reverse("admin:index")).content.decode()
    title = " ".join(re.search(r"<title>(.*?)</title>", page, re.S).group(1).split())
    assert title == "Dashboard | LMS console"


def test_the_superuser_sees_the_marketers_sections_then_system(console):
    page = console.get(reverse("admin:index")).content.decode()
    for section in ("Campaigns", "Loyalty", "Audience", "Promotions and messages", "Catalogue and orders", "System"):
        assert section in page
    assert page.index("Catalogue and orders") < page.index("Sign-in codes")


@pytest.mark.parametrize("url", SYSTEM_URLS)
def test_a_marketer_neither_sees_nor_opens_the_system_section(marketer_console, url):
    page = marketer_console.get(reverse("admin:index")).content.decode()
    assert "Sign-in codes" not in page and "API keys" not in page
    assert marketer_console.get(url).status_code == 403


@pytest.mark.parametrize("url", SYSTEM_URLS)
def test_system_models_stay_closed_to_staff_given_their_permissions_by_hand(client, marketer, url):
    marketer.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client.force_login(marketer)
    assert client.get(url).status_code == 403


def test_the_analyst_sees_what_they_may_read_and_no_add_buttons(analyst_console):
    page = analyst_console.get(reverse("admin:index")).content.decode()
    assert "Campaigns" in page and "Segments" in page and "Sign-in codes" not in page
    campaigns = analyst_console.get("/admin/campaigns/campaign/")
    assert campaigns.status_code == 200
    assert "/admin/campaigns/campaign/add/" not in campaigns.content.decode()
    assert analyst_console.get("/admin/campaigns/campaign/add/").status_code == 403
    assert analyst_console.get("/admin/segments/segment/add/").status_code == 403
    assert analyst_console.get("/admin/loyalty/loyaltyprogram/add/").status_code == 403
    assert analyst_console.get("/admin/promotions/promotion/add/").status_code == 403


def test_the_marketer_may_add_campaigns_programs_segments_and_promotions(marketer_console):
    for url in (
        "/admin/campaigns/campaign/add/",
        "/admin/loyalty/loyaltyprogram/add/",
        "/admin/segments/segment/add/",
        "/admin/promotions/promotion/add/",
    ):
        assert marketer_console.get(url).status_code == 200, url
    assert marketer_console.get("/admin/commerce/product/add/").status_code == 403


def test_a_staff_user_without_a_group_sees_no_section(client):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(email="new@example.com", is_staff=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Coupon codes" not in page and "Programs" not in page


def test_the_groups_exist_after_migrate_with_their_permissions():
    marketer = {p.codename for p in Group.objects.get(name=MARKETER).permissions.all()}
    analyst = {p.codename for p in Group.objects.get(name=ANALYST).permissions.all()}
    assert {"add_campaign", "change_campaign", "change_loyaltyprogram", "add_segment", "view_reports"} <= marketer
    assert {"view_campaign", "view_loyaltyprogram", "view_segment", "view_reports", "export_reports"} <= analyst
    assert not {p for p in analyst if not p.startswith("view_") and p != "export_reports"}


def test_syncing_the_groups_again_adds_what_is_missing_and_keeps_what_was_granted_by_hand():
    marketer = Group.objects.get(name=MARKETER)
    extra = Permission.objects.get(codename="add_product")
    marketer.permissions.add(extra)
    marketer.permissions.remove(Permission.objects.get(codename="add_campaign"))

    groups_sync()

    codenames = set(marketer.permissions.values_list("codename", flat=True))
    assert {"add_campaign", "add_product"} <= codenames


def test_signing_in_at_the_login_page_itself_lands_on_the_console(client, marketer):
    # Unfold's login form has no hidden "next" field: without it Django sends to /accounts/profile/.
    response = client.post(reverse("admin:login"), {"username": "mira@example.com", "password": "Staff-Password-1"})
    assert response.status_code == 302
    assert response.url == reverse("admin:index")
    assert client.get(response.url).status_code == 200
