"""The catalogue mirror: bulk upsert of products by sku, and the product list and detail."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import Brand, Category, Product
from commerce.tests.factories import BrandFactory, CategoryFactory, ProductFactory
from conftest import client_with_key
from lms.testing import assert_error, run_concurrently

BULK = "/api/v1/commerce/products/bulk"
PRODUCTS = "/api/v1/commerce/products/"

pytestmark = pytest.mark.django_db


def _bulk(client, *products):
    return client.post(BULK, {"products": list(products)}, format="json")


def _only_result(response) -> dict:
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    return result


# --- Bulk upsert: outcomes --------------------------------------------------------------------


def test_bulk_creates_products_and_reports_counts(integration_client):
    response = _bulk(
        integration_client,
        {"sku": "PH-1", "name": "Phone", "price": "19999.00", "stock_quantity": 5},
        {"sku": "PH-2", "name": "Phone Pro", "price": "29999.50", "active": False},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in ("created", "updated", "unchanged", "replayed", "rejected")} == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "replayed": 0,
        "rejected": 0,
    }
    assert body["results"] == [
        {"index": 0, "key": "PH-1", "outcome": "created"},
        {"index": 1, "key": "PH-2", "outcome": "created"},
    ]
    phone = Product.objects.get(sku="PH-1")
    assert (phone.name, phone.price, phone.stock_quantity, phone.active) == ("Phone", Decimal("19999.00"), 5, True)
    assert Product.objects.get(sku="PH-2").active is False


def test_bulk_updates_only_the_fields_given_and_reports_unchanged(integration_client):
    ProductFactory(sku="PH-1", name="Phone", price=Decimal("100.00"), stock_quantity=3)
    ProductFactory(sku="PH-2", name="Case", price=Decimal("5.00"))

    response = _bulk(
        integration_client,
        {"sku": "PH-1", "price": "90.00"},
        {"sku": "PH-2", "name": "Case", "price": "5.00"},
    )

    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1), body
    assert [r["outcome"] for r in body["results"]] == ["updated", "unchanged"]
    phone = Product.objects.get(sku="PH-1")
    assert (phone.name, phone.price, phone.stock_quantity) == ("Phone", Decimal("90.00"), 3)


def test_an_unchanged_product_keeps_its_updated_at(integration_client):
    product = ProductFactory(sku="PH-1", name="Phone", price=Decimal("100.00"))
    before = Product.objects.get(pk=product.pk).updated_at

    result = _only_result(_bulk(integration_client, {"sku": "PH-1", "name": "Phone", "price": "100.00"}))

    assert result["outcome"] == "unchanged"
    assert Product.objects.get(pk=product.pk).updated_at == before


def test_the_same_sku_twice_in_a_batch_stores_the_last(integration_client):
    response = _bulk(
        integration_client,
        {"sku": "PH-1", "name": "First", "price": "10.00", "brand": "Acme"},
        {"sku": "PH-1", "name": "Second", "price": "20.00"},
    )

    assert response.status_code == 200
    assert response.json()["rejected"] == 0
    product = Product.objects.get(sku="PH-1")
    assert (product.name, product.price, product.brand.name) == ("Second", Decimal("20.00"), "Acme")


# --- Bulk upsert: categories and brands --------------------------------------------------------


def test_a_category_path_creates_the_tree_once_and_reuses_it_case_insensitively(integration_client):
    response = _bulk(
        integration_client,
        {"sku": "PH-1", "name": "Phone", "price": "10.00", "category": "Electronics > Phones"},
        {"sku": "PH-2", "name": "Phone 2", "price": "10.00", "category": "electronics >  PHONES "},
    )
    assert response.json()["created"] == 2

    later = _bulk(
        integration_client, {"sku": "LP-1", "name": "Laptop", "price": "10.00", "category": "ELECTRONICS>Laptops"}
    )

    assert _only_result(later)["outcome"] == "created"
    electronics = Category.objects.get(parent=None)
    assert electronics.name == "Electronics"
    assert sorted(electronics.children.values_list("name", flat=True)) == ["Laptops", "Phones"]
    assert Category.objects.count() == 3
    phones = Category.objects.get(name="Phones")
    assert set(Product.objects.filter(category=phones).values_list("sku", flat=True)) == {"PH-1", "PH-2"}
    assert Product.objects.get(sku="LP-1").category.parent == electronics


def test_a_plain_category_name_is_a_root_category(integration_client):
    _only_result(_bulk(integration_client, {"sku": "G-1", "name": "Rice", "price": "10.00", "category": "Groceries"}))

    category = Product.objects.get(sku="G-1").category
    assert (category.name, category.parent) == ("Groceries", None)


def test_categories_and_brands_by_id(integration_client):
    category, brand = CategoryFactory(name="Phones"), BrandFactory(name="Acme")

    result = _only_result(
        _bulk(
            integration_client,
            {"sku": "PH-1", "name": "Phone", "price": "10.00", "category_id": category.pk, "brand_id": brand.pk},
        )
    )

    assert result["outcome"] == "created"
    product = Product.objects.get(sku="PH-1")
    assert (product.category, product.brand) == (category, brand)


def test_brands_by_name_are_created_once_and_reused_case_insensitively(integration_client):
    existing = BrandFactory(name="Acme")

    response = _bulk(
        integration_client,
        {"sku": "A-1", "name": "One", "price": "10.00", "brand": "ACME"},
        {"sku": "B-1", "name": "Two", "price": "10.00", "brand": "Globex"},
        {"sku": "B-2", "name": "Three", "price": "10.00", "brand": "globex"},
    )

    assert response.json()["created"] == 3
    assert Product.objects.get(sku="A-1").brand == existing
    assert Brand.objects.count() == 2
    assert Product.objects.get(sku="B-1").brand == Product.objects.get(sku="B-2").brand


@pytest.mark.parametrize(
    ("field", "code"),
    [("category_id", "category_unknown"), ("brand_id", "brand_unknown")],
)
def test_an_unknown_category_or_brand_id_rejects_the_item(integration_client, field, code):
    result = _only_result(_bulk(integration_client, {"sku": "PH-1", "name": "Phone", "price": "10.00", field: 999999}))

    assert result["outcome"] == "rejected"
    assert result["error"]["code"] == code
    assert "999999" in result["error"]["message"]
    assert not Product.objects.exists()


@pytest.mark.parametrize("missing", ["name", "price"])
def test_a_new_product_without_name_or_price_is_incomplete(integration_client, missing):
    item = {"sku": "PH-1", "name": "Phone", "price": "10.00"}
    del item[missing]

    result = _only_result(_bulk(integration_client, item))

    assert result["outcome"] == "rejected"
    assert result["error"]["code"] == "product_incomplete"
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "-1.00"}, "price"),
        ({"price": "cheap"}, "price"),
        ({"price": "10.125"}, "price"),
        ({"stock_quantity": -1}, "stock_quantity"),
        ({"category": "Phones", "category_id": 1}, "category"),
        ({"brand": "Acme", "brand_id": 1}, "brand"),
    ],
)
def test_an_invalid_item_is_rejected_naming_the_field(integration_client, change, field):
    result = _only_result(_bulk(integration_client, {"sku": "PH-1", "name": "Phone", "price": "10.00", **change}))

    assert result["outcome"] == "rejected"
    assert result["error"]["code"] == "validation_error"
    assert field in result["error"]["details"], result["error"]
    assert result["error"]["message"].startswith(f"{field}:")
    assert not Product.objects.exists()


def test_a_rejected_item_is_not_half_applied_and_the_valid_ones_are_stored(integration_client):
    kept = ProductFactory(sku="OLD-1", name="Old", price=Decimal("50.00"))
    kept_category = kept.category_id
    categories, brands = Category.objects.count(), Brand.objects.count()

    response = _bulk(
        integration_client,
        {"sku": "NEW-1", "name": "New", "price": "10.00"},
        # A new product without a price: its new category path and brand must not be created.
        {"sku": "NEW-2", "name": "Lego", "category": "Toys > Bricks", "brand": "Lego"},
        # An existing product: a bad brand id leaves it (and the new category) as it was.
        {"sku": "OLD-1", "price": "1.00", "category": "Garden", "brand_id": 999999},
        {"sku": "OLD-1", "price": "-5.00"},
    )

    body = response.json()
    assert [r["outcome"] for r in body["results"]] == ["created", "rejected", "rejected", "rejected"]
    assert [r["error"]["code"] for r in body["results"][1:]] == [
        "product_incomplete",
        "brand_unknown",
        "validation_error",
    ]
    assert Product.objects.get(sku="NEW-1").price == Decimal("10.00")
    assert not Product.objects.filter(sku="NEW-2").exists()
    kept.refresh_from_db()
    assert (kept.price, kept.name, kept.category_id) == (Decimal("50.00"), "Old", kept_category)
    assert (Category.objects.count(), Brand.objects.count()) == (categories, brands)


# --- Bulk upsert: batch shape -----------------------------------------------------------------


def test_more_than_1000_products_is_batch_too_large(integration_client):
    items = [{"sku": f"S-{n}", "name": "x", "price": "1.00"} for n in range(1001)]

    body = assert_error(_bulk(integration_client, *items), 400, "batch_too_large")

    assert body["details"]["limit"] == 1000
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [{"products": []}, {"products": "PH-1"}, {"products": {"sku": "PH-1"}}, {}, [{"sku": "PH-1"}]],
    ids=["empty-list", "string", "object", "missing", "body-is-a-list"],
)
def test_a_bulk_body_that_is_not_a_list_of_products_is_400(integration_client, payload):
    response = integration_client.post(BULK, payload, format="json")

    body = assert_error(response, 400, "validation_error")
    assert "products" in body["details"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_upserts_of_the_same_new_sku_store_one_product(integration_key):
    item = {"sku": "RACE-1", "name": "Race", "price": "10.00", "category": "Electronics > Phones", "brand": "Acme"}

    responses = run_concurrently(2, lambda _: client_with_key(integration_key).post(BULK, {"products": [item]}))

    assert [r.status_code for r in responses] == [200, 200], [r.content for r in responses]
    assert all(r.json()["rejected"] == 0 for r in responses)
    assert Product.objects.filter(sku="RACE-1").count() == 1
    assert Category.objects.count() == 2
    assert Brand.objects.count() == 1


# --- List and detail --------------------------------------------------------------------------


def _skus(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [p["sku"] for p in response.json()["results"]]


@pytest.fixture
def catalogue():
    phones, groceries = CategoryFactory(name="Phones"), CategoryFactory(name="Groceries")
    acme, farm = BrandFactory(name="Acme"), BrandFactory(name="Farm")
    ProductFactory(sku="A", name="Budget Phone", category=phones, brand=acme, price=Decimal("100.00"), stock_quantity=0)
    ProductFactory(sku="B", name="Phone Max", category=phones, brand=acme, price=Decimal("900.00"), stock_quantity=50)
    ProductFactory(
        sku="C", name="Basmati Rice", category=groceries, brand=farm, price=Decimal("10.00"), stock_quantity=5
    )
    ProductFactory(sku="D", name="Old Phone", category=phones, brand=farm, price=Decimal("50.00"), active=False)
    return {"phones": phones, "groceries": groceries, "acme": acme, "farm": farm}


def test_the_product_list_is_paginated_and_ordered_by_sku(integration_client, catalogue):
    response = integration_client.get(PRODUCTS, {"limit": 2})

    assert _skus(response) == ["A", "B"]
    body = response.json()
    assert (body["count"], body["page"], body["limit"], body["pages"]) == (4, 1, 2, 2)
    first = body["results"][0]
    assert first["category"] == {"id": catalogue["phones"].pk, "name": "Phones"}
    assert first["brand"] == {"id": catalogue["acme"].pk, "name": "Acme"}
    assert first["price"] == "100.00"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sku": "A,C,ZZZ"}, ["A", "C"]),
        ({"sku": "B"}, ["B"]),
        ({"q": "phone"}, ["A", "B", "D"]),
        ({"active": "false"}, ["D"]),
        ({"active": "true", "q": "phone"}, ["A", "B"]),
        ({"price_min": "50", "price_max": "100"}, ["A", "D"]),
        ({"stock_below": "6"}, ["A", "C"]),
        ({"stock_above": "5"}, ["B", "D"]),
    ],
)
def test_the_product_list_filters(integration_client, catalogue, params, expected):
    assert _skus(integration_client.get(PRODUCTS, params)) == expected


def test_the_product_list_filters_by_category_and_brand_id(integration_client, catalogue):
    assert _skus(integration_client.get(PRODUCTS, {"category": catalogue["groceries"].pk})) == ["C"]
    assert _skus(integration_client.get(PRODUCTS, {"brand": catalogue["farm"].pk})) == ["C", "D"]
    assert _skus(
        integration_client.get(PRODUCTS, {"category": catalogue["phones"].pk, "brand": catalogue["farm"].pk})
    ) == ["D"]


@pytest.fixture
def catalogue_tree():
    electronics = CategoryFactory(name="Electronics")
    phones = CategoryFactory(name="Phones", parent=electronics)
    audio = CategoryFactory(name="Audio", parent=electronics)
    toys = CategoryFactory(name="Toys")
    toy_phones = CategoryFactory(name="Phones", parent=toys)
    samsung = BrandFactory(name="Samsung")
    ProductFactory(sku="PHN-1", category=phones, brand=samsung)
    ProductFactory(sku="AUD-1", category=audio)
    ProductFactory(sku="TOY-1", category=toy_phones)
    ProductFactory(sku="TOP-1", category=electronics, brand=samsung)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Electronics", ["AUD-1", "PHN-1", "TOP-1"]),  # a name takes everything below it
        ("electronics > PHONES", ["PHN-1"]),  # a path from the root, case-insensitive
        ("Toys > Phones", ["TOY-1"]),
        ("Phones", ["PHN-1", "TOY-1"]),  # a name alone: every category of that name
        ("Audio > Phones", []),  # a path must start at the root
        ("Garden", []),
        ("99999999999999999999999", []),  # too long for an id: a name no category has
    ],
)
def test_the_product_list_filters_by_category_name_or_path(integration_client, catalogue_tree, category, expected):
    assert _skus(integration_client.get(PRODUCTS, {"category": category})) == expected


def test_the_product_list_filters_by_brand_name(integration_client, catalogue_tree):
    assert _skus(integration_client.get(PRODUCTS, {"brand": "samsung"})) == ["PHN-1", "TOP-1"]
    assert _skus(integration_client.get(PRODUCTS, {"brand": "Samsung", "category": "Electronics > Phones"})) == [
        "PHN-1"
    ]


def test_the_product_list_filters_by_updated_since(integration_client, catalogue):
    long_ago = timezone.now() - timedelta(days=30)
    Product.objects.exclude(sku="B").update(updated_at=long_ago)

    since = (timezone.now() - timedelta(days=1)).isoformat()

    assert _skus(integration_client.get(PRODUCTS, {"updated_since": since})) == ["B"]


def test_a_bad_filter_value_is_400(integration_client, catalogue):
    response = integration_client.get(PRODUCTS, {"price_min": "cheap"})

    body = assert_error(response, 400, "validation_error")
    assert "price_min" in body["details"]


def test_a_product_by_sku(integration_client, catalogue):
    response = integration_client.get(f"{PRODUCTS}C/")

    assert response.status_code == 200
    body = response.json()
    assert (body["sku"], body["name"], body["price"]) == ("C", "Basmati Rice", "10.00")
    assert body["category"]["name"] == "Groceries"


def test_an_unknown_sku_is_404(integration_client, catalogue):
    assert_error(integration_client.get(f"{PRODUCTS}NOPE/"), 404, "not_found")


def test_the_product_list_runs_a_constant_number_of_queries(integration_client):
    ProductFactory.create_batch(5)
    with CaptureQueriesContext(connection) as few:
        assert len(integration_client.get(PRODUCTS, {"limit": 100}).json()["results"]) == 5
    ProductFactory.create_batch(55)

    with CaptureQueriesContext(connection) as many:
        assert len(integration_client.get(PRODUCTS, {"limit": 100}).json()["results"]) == 60

    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- Brand names ----------------------------------------------------------------------------------


def test_a_name_that_lower_cases_like_an_existing_brand_reuses_it(integration_client):
    Brand.objects.create(name="kelvinfz")

    response = integration_client.post(
        "/api/v1/commerce/products/bulk",
        {"products": [{"sku": "K-1", "name": "K", "price": "1.00", "brand": "\u212aelvinfz"}]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["outcome"] == "created"
    assert Brand.objects.count() == 1
