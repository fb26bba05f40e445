"""What a warm POST /api/v1/cart/evaluate costs: SQL queries (a guest cart none, a known
customer at most two, whatever the number of campaigns), Redis round trips (one: the throttle
and both snapshot versions), and the copies per process it relies on staying true (the
catalogue, the API keys)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from redis.connection import Connection
from rest_framework.exceptions import ValidationError
from rest_framework_api_key.models import APIKey

from campaigns.api.serializers import CartEvaluateInput
from campaigns.evaluation import CartRequest, cart_evaluate
from campaigns.evaluation.catalogue import catalogue_get
from campaigns.tests.factories import CampaignFactory
from commerce.services import api_keys
from commerce.services.api_keys import api_key_revoke
from commerce.services.catalogue import products_upsert
from commerce.tests.factories import CategoryFactory, ProductFactory
from conftest import client_with_key
from lms.api.validation import validated_hot
from lms.testing import assert_error
from segments.models import CustomerMembership
from segments.services import segment_members_replace
from segments.tests.factories import CustomerFactory, ProductSegmentFactory, StaticSegmentFactory

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/cart/evaluate"


@pytest.fixture(autouse=True)
def _api_keys_remembered(settings):
    settings.API_KEY_CACHE_SECONDS = 30  # the default (the suite turns the memory off)


@pytest.fixture
def shop():
    category = CategoryFactory(name="Tees")
    for n in range(20):
        ProductFactory(sku=f"TEE-{n}", category=category)
    segment = StaticSegmentFactory()
    return {"category": category, "segment": segment}


def campaigns(shop, numbers: range, *, counted: bool = True) -> None:
    """Campaigns matching the cart, a third for a customer segment; ``counted``: with a usage
    limit and a budget, whose live counters are read on every evaluation."""
    for i in numbers:
        limits = {"usage_limit": 100, "budget": Decimal("100000")} if counted else {}
        CampaignFactory(
            name=f"C{i}", **limits,
            audience="GROUPS" if i % 3 == 0 else "ALL", segments=[shop["segment"]] if i % 3 == 0 else [],
            redemption_type="COUPON_CODE" if i == 1 else "AUTOMATIC", code="SHARED1" if i == 1 else "",
            rules=[{"rule_type": "CATEGORY", "categories": [shop["category"]]}, {"value": Decimal("1")}],
        )  # fmt: skip


def body(**extra):
    lines = [{"sku": f"TEE-{n}", "quantity": 1 + n % 3, "unit_price": "250.00"} for n in range(20)]
    return {"lines": lines, "shipping": "40.00", "codes": ["SHARED1"], **extra}


def warm_queries(client, payload, assert_queries, most: int) -> None:
    client.post(EVALUATE, payload, format="json")  # builds the snapshots, remembers the key
    with assert_queries(most):
        response = client.post(EVALUATE, payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["discounts"], response.json()["rejected"][:3]


def test_a_warm_guest_cart_costs_no_query_at_20_or_200_campaigns(integration_client, shop, django_assert_num_queries):
    campaigns(shop, range(20), counted=False)
    warm_queries(integration_client, body(), django_assert_num_queries, 0)
    campaigns(shop, range(20, 200), counted=False)
    warm_queries(integration_client, body(), django_assert_num_queries, 0)


def test_a_warm_guest_cart_reads_only_the_live_counters_of_limited_campaigns(
    integration_client, shop, django_assert_num_queries
):
    campaigns(shop, range(20))
    warm_queries(integration_client, body(), django_assert_num_queries, 1)
    campaigns(shop, range(20, 200))
    warm_queries(integration_client, body(), django_assert_num_queries, 1)


def test_a_warm_known_customer_costs_at_most_two_queries_at_20_or_200_campaigns(
    integration_client, shop, django_assert_max_num_queries
):
    customer = CustomerFactory()
    CustomerMembership.objects.create(segment=shop["segment"], customer=customer)
    campaigns(shop, range(20))
    warm_queries(integration_client, body(customer={"id": customer.pk}), django_assert_max_num_queries, 2)
    campaigns(shop, range(20, 200))
    warm_queries(integration_client, body(customer={"id": customer.pk}), django_assert_max_num_queries, 2)


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what redis-py sends to the real Redis: one send is one round trip (a pipeline
    or a script call is one send)."""
    sent = []
    real = Connection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return real(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    return sent


@pytest.mark.parametrize(("codes", "trips"), [([], 1), (["SHARED1"], 3)])
def test_a_warm_evaluation_asks_redis_once_and_twice_more_to_settle_codes(
    integration_client, shop, round_trips, codes, trips
):
    customer = CustomerFactory()
    campaigns(shop, range(20))
    payload = body(customer={"id": customer.pk}, codes=codes)
    integration_client.post(EVALUATE, payload, format="json")
    round_trips.clear()

    response = integration_client.post(EVALUATE, payload, format="json")

    assert response.status_code == 200
    # Counting the call and reading both versions; with codes, reserving the code budgets
    # and giving the known codes' slots back.
    assert len(round_trips) == trips


def test_a_product_moved_by_the_upsert_is_judged_in_its_new_category_at_once(integration_client, shop):
    other = CategoryFactory(name="Shoes")
    CampaignFactory(name="Shoes off", rules=[{"rule_type": "CATEGORY", "categories": [other], "value": Decimal("50")}])
    payload = {"lines": [{"sku": "TEE-1", "quantity": 1, "unit_price": "100.00"}]}
    assert integration_client.post(EVALUATE, payload, format="json").json()["total_discount"] == "0.00"

    products_upsert(items=[{"sku": "TEE-1", "category_id": other.pk}])

    assert integration_client.post(EVALUATE, payload, format="json").json()["total_discount"] == "50.00"


def test_a_new_product_is_found_although_the_catalogue_copy_is_older(integration_client, shop):
    CampaignFactory(name="Tees off", rules=[{"rule_type": "CATEGORY", "categories": [shop["category"]]}])
    integration_client.post(EVALUATE, body(), format="json")  # the copy is built
    catalogue_get(dt.datetime.now(dt.UTC)).products.pop("TEE-3")  # the held copy, as if TEE-3 were newer

    result = integration_client.post(
        EVALUATE, {"lines": [{"sku": "TEE-3", "quantity": 1, "unit_price": "100.00"}]}, format="json"
    ).json()

    assert result["total_discount"] == "10.00"


def test_the_lines_carry_their_products_segments_once_a_segment_changes(shop):
    segment = ProductSegmentFactory(type="STATIC", criteria=None)
    request = CartRequest(lines=[{"sku": "TEE-2", "quantity": 1, "unit_price": Decimal("10")}], at=timezone.now())
    cart_evaluate(request)

    segment_members_replace(segment=segment, members=["TEE-2"])

    item = catalogue_get(dt.datetime.now(dt.UTC)).products["TEE-2"]
    assert item.segment_ids == frozenset({segment.pk})


def test_a_key_revoked_through_the_service_is_refused_at_once(integration_key, integration_client, shop):
    assert integration_client.post(EVALUATE, body(), format="json").status_code == 200  # remembered

    api_key_revoke(api_key=APIKey.objects.get(prefix=integration_key.partition(".")[0]))

    assert_error(client_with_key(integration_key).post(EVALUATE, body(), format="json"), 401, "api_key_revoked")


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_ttl(integration_key, settings, monkeypatch, shop):
    client = client_with_key(integration_key)
    assert client.post(EVALUATE, body(), format="json").status_code == 200  # remembered
    APIKey.objects.filter(prefix=integration_key.partition(".")[0]).update(revoked=True)  # another process

    assert client.post(EVALUATE, body(), format="json").status_code == 200  # within the TTL
    later = api_keys._clock() + settings.API_KEY_CACHE_SECONDS + 1
    monkeypatch.setattr(api_keys, "_clock", lambda: later)

    assert_error(client.post(EVALUATE, body(), format="json"), 401, "api_key_revoked")


LINE = {"sku": "TEE-1", "quantity": 2, "unit_price": "250.00"}


@pytest.mark.parametrize(
    "payload",
    [
        {"lines": [LINE, {**LINE, "sku": "  TEE-2 ", "quantity": "3", "unit_price": 10, "category": "Tees"}]},
        {"lines": [{**LINE, "quantity": 3.0, "unit_price": "1e2", "extra": "ignored"}], "codes": ["A"]},
        {"lines": [{**LINE, "brand": ""}]},
        {"lines": [{**LINE, "quantity": "x"}, {"sku": None, "unit_price": "10.001"}]},
        {"lines": [{**LINE, "quantity": True}]},
        {"lines": [LINE, "not a line"]},
        {"lines": []},
        {"lines": {"sku": "TEE"}},
        {"lines": [{**LINE, "unit_price": "99999999999"}]},
        {"lines": [LINE], "shipping": "-1"},
        [],
    ],
)
def test_the_hot_validation_answers_as_the_full_one(payload):
    def answer(validate):
        try:
            return validate(CartEvaluateInput, payload)
        except ValidationError as exc:
            return ("400", exc.detail)

    assert answer(validated_hot) == answer(validated_full)
    assert answer(validated_hot) == answer(validated_full)  # the reused instance keeps no state


def validated_full(serializer_class, payload):
    """DRF's own path, the lines' lean path switched off."""
    serializer = serializer_class(data=payload)
    serializer.fields["lines"].flat_fields = None
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def test_a_price_or_stock_change_keeps_the_catalogue_copy(shop):
    from django.core.cache import cache

    from commerce.services.catalogue import CATALOGUE_VERSION_KEY

    products_upsert(items=[{"sku": "TEE-1", "price": Decimal("99.00")}])  # settles the version
    before = cache.get(CATALOGUE_VERSION_KEY)

    products_upsert(items=[{"sku": "TEE-1", "price": Decimal("120.00"), "stock_quantity": 7}])

    assert before is not None and cache.get(CATALOGUE_VERSION_KEY) == before
