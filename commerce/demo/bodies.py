"""The demo's orders as the integration API's JSON bodies, with the request hash ingestion
would store for each."""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from commerce.demo.plan import Customers, DemoSpec, OrderPlanner, plan_products

MONEY_FIELDS = ("subtotal", "shipping", "discount_total", "tax_total", "total")


def order_body(data: dict[str, Any]) -> dict[str, Any]:
    """A planned order as the API's JSON body. Its amounts are 2-place Decimals and its time is
    UTC, so this is also the canonical form ``order_request_hash`` makes of the validated body."""
    body = dict(data)
    body["placed_at"] = data["placed_at"].isoformat()
    for name in MONEY_FIELDS:
        body[name] = str(data[name])
    body["lines"] = [
        {**line, "unit_price": str(line["unit_price"]), "line_total": str(line["line_total"])} for line in data["lines"]
    ]
    return body


def request_hash(body: dict[str, Any]) -> str:
    """``commerce.services.orders.order_request_hash`` of the validated body, from the JSON body
    directly (several times faster; the tests hold the two equal)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def order_bodies(spec: DemoSpec) -> Iterator[dict[str, Any]]:
    """The spec's orders as the integration API's JSON bodies (``POST /api/v1/commerce/orders/``).

    They name customers by external_id and products by sku, so the spec's customers and
    products must be in the database (``seed`` with ``orders=0``) before they are ingested.
    """
    planner = OrderPlanner(spec, plan_products(spec), Customers(spec))
    for planned in planner.orders():
        yield order_body(planned.data)
