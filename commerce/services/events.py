"""Interaction events (views, wishlist and cart adds, abandons, logins), one or a batch."""

from typing import Any

from django.db import transaction

from accounts.hooks import Login, logins_emit
from accounts.models import normalize_email
from commerce.models import PRODUCT_EVENT_KINDS, EventKind, InteractionEvent, Product
from commerce.services import ItemResult
from commerce.services.customers import CustomerResolver
from lms.errors import Conflict, DomainError, Invalid


def _replay_conflict(external_id: str) -> Conflict:
    return Conflict(
        "idempotency_conflict",
        f"Event {external_id!r} was sent before with a different body; a retry must send the same body.",
        external_id=external_id,
    )


def _same_customer(customer, ref: dict[str, Any]) -> bool:
    """Whether a customer reference names this stored customer (as the resolver would find it)."""
    if ref.get("external_id") and customer.external_id:
        if ref["external_id"] != customer.external_id:
            return False
        return not ref.get("email") or normalize_email(ref["email"]) == customer.email
    return bool(ref.get("email")) and normalize_email(ref["email"]) == customer.email


def _same_event(stored: InteractionEvent, item: dict[str, Any]) -> bool:
    return (
        stored.kind == item["kind"]
        and (stored.product.sku if stored.product else None) == (item.get("sku") or None)
        and stored.occurred_at == item["occurred_at"]
        and _same_customer(stored.customer, item["customer"])
    )


def _body(item: dict[str, Any]) -> dict[str, Any]:
    """The identifying part of an event body, to compare two items of one batch."""
    ref = item["customer"]
    customer = {"external_id": ref.get("external_id"), "email": normalize_email(ref.get("email") or "")}
    return {"kind": item["kind"], "sku": item.get("sku") or None, "at": item["occurred_at"], "customer": customer}


def _concurrent_conflicts_reject(events: list[InteractionEvent], results: list[ItemResult]) -> list[InteractionEvent]:
    """The events that are stored as given. A concurrent call that stored another event under
    the same external_id first (our insert waited for it, then skipped) rejects ours."""
    keyed = {event.external_id: event for event in events if event.external_id}
    if not keyed:
        return events
    stored = InteractionEvent.objects.filter(external_id__in=list(keyed)).only(
        "external_id", "kind", "product_id", "occurred_at", "customer_id"
    )
    fields = ("kind", "product_id", "occurred_at", "customer_id")
    lost = {
        row.external_id
        for row in stored
        if tuple(getattr(row, name) for name in fields)
        != tuple(getattr(keyed[row.external_id], name) for name in fields)
    }
    for result in results:
        if result.obj is not None and result.obj.external_id in lost:
            result.reject(_replay_conflict(result.obj.external_id))
            result.obj = None
    return [event for event in events if event.external_id not in lost]


@transaction.atomic
def events_ingest(*, items: list[dict[str, Any]]) -> list[ItemResult]:
    """Store validated events (``EventInput``); an event whose external_id was stored before
    is a replay when it is the same event (kind, sku, time, customer), else 409
    ``idempotency_conflict``. Customers named by email are created when unknown; an unknown
    sku is refused (events are counted per product, so they must name one that exists)."""
    results = [ItemResult(index=i, key=item.get("external_id") or "") for i, item in enumerate(items)]
    stored = InteractionEvent.objects.select_related("customer", "product").only(
        "external_id", "kind", "occurred_at", "customer__email", "customer__external_id", "product__sku"
    )
    seen = {
        event.external_id: event
        for event in stored.filter(external_id__in=[item["external_id"] for item in items if item.get("external_id")])
    }
    products = Product.objects.only("id", "sku").in_bulk(
        {item["sku"] for item in items if item.get("sku")}, field_name="sku"
    )
    # Products first: an event refused for its sku must not create its customer.
    accepted: list[tuple[dict[str, Any], ItemResult, Product | None]] = []
    for item, result in zip(items, results, strict=True):
        if item.get("external_id") and item["external_id"] in seen:
            if _same_event(seen[item["external_id"]], item):
                result.outcome = "replayed"
            else:
                result.reject(_replay_conflict(item["external_id"]))
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
    first_of: dict[str, dict[str, Any]] = {}  # external_id -> the body of the batch's first item with it
    for item, result, product in accepted:
        if item.get("external_id") and item["external_id"] in first_of:  # twice in this batch
            if _body(first_of[item["external_id"]]) == _body(item):
                result.outcome = "replayed"
            else:
                result.reject(_replay_conflict(item["external_id"]))
            continue
        try:
            customer = resolver.get(item["customer"])
        except DomainError as error:
            result.reject(error)
            continue
        if item.get("external_id"):
            first_of[item["external_id"]] = item
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
    events = _concurrent_conflicts_reject(events, results)
    # Streak awards are idempotent per local day, so an event a concurrent call stored too is harmless.
    logins_emit(
        [Login(customer_id=e.customer_id, occurred_at=e.occurred_at) for e in events if e.kind == EventKind.LOGIN]
    )
    return results
