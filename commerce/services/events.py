"""Interaction events (views, wishlist and cart adds, abandons, logins), one or a batch."""

from typing import Any

from django.db import transaction

from accounts.hooks import Login, logins_emit
from commerce.models import PRODUCT_EVENT_KINDS, EventKind, InteractionEvent, Product
from commerce.services import ItemResult
from commerce.services.customers import CustomerResolver
from lms.errors import DomainError, Invalid


@transaction.atomic
def events_ingest(*, items: list[dict[str, Any]]) -> list[ItemResult]:
    """Store validated events (``EventInput``); an event whose external_id was stored before
    is a replay. Customers named by email are created when unknown; an unknown sku is refused
    (events are counted per product, so they must name one that exists)."""
    results = [ItemResult(index=i, key=item.get("external_id") or "") for i, item in enumerate(items)]
    seen = set(
        InteractionEvent.objects.filter(
            external_id__in=[item["external_id"] for item in items if item.get("external_id")]
        ).values_list("external_id", flat=True)
    )
    products = Product.objects.only("id", "sku").in_bulk(
        {item["sku"] for item in items if item.get("sku")}, field_name="sku"
    )
    # Products first: an event refused for its sku must not create its customer.
    accepted: list[tuple[dict[str, Any], ItemResult, Product | None]] = []
    for item, result in zip(items, results, strict=True):
        if item.get("external_id") and item["external_id"] in seen:
            result.outcome = "replayed"
            continue
        product = None
        try:
            if item.get("sku"):
                product = products.get(item["sku"])
                if product is None:
                    raise Invalid("sku_unknown", f"No product with sku {item['sku']!r}.", field="sku")
            elif item["kind"] in PRODUCT_EVENT_KINDS:
                raise Invalid("sku_required", f"A {item['kind']} event names a product (sku).", field="sku")
        except DomainError as error:
            result.reject(error)
            continue
        accepted.append((item, result, product))
    resolver = CustomerResolver([item["customer"] for item, _, _ in accepted]).resolve()
    events = []
    for item, result, product in accepted:
        if item.get("external_id") and item["external_id"] in seen:  # twice in this batch
            result.outcome = "replayed"
            continue
        try:
            customer = resolver.get(item["customer"])
        except DomainError as error:
            result.reject(error)
            continue
        if item.get("external_id"):
            seen.add(item["external_id"])
        event = InteractionEvent(
            customer=customer,
            kind=item["kind"],
            product=product,
            occurred_at=item["occurred_at"],
            external_id=item.get("external_id") or None,
        )
        events.append(event)
        result.obj = event
    # ignore_conflicts: an event a concurrent call stored meanwhile is not stored twice.
    # Inserted in external_id order, so two batches sharing ids wait for each other instead of deadlocking.
    events.sort(key=lambda event: event.external_id or "")
    InteractionEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=2000)
    # Streak awards are idempotent per local day, so an event a concurrent call stored too is harmless.
    logins_emit(
        [Login(customer_id=e.customer_id, occurred_at=e.occurred_at) for e in events if e.kind == EventKind.LOGIN]
    )
    return results
