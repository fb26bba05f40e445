"""Who may call what: every route of the URLconf, canonical and seed, every method it answers,
as anonymous, a customer (USER), another customer, an ADMIN and the integration key.

``ROUTES`` is the one explicit table (read from the views' permission classes and the
README). A refused identity gets 401 (anonymous) or 401/403 (anyone else); an allowed one never
gets 401 or 403 (a 400 for the empty or minimal body is fine: it got past the door), and an
allowed read of a route with ids in its path answers 2xx or a redirect (the ids are real, so the door was
tried on something that exists). A route or a method missing from the table fails the test by
name, so a new route states who may call it.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

ANON, USER, OTHER, ADMIN, KEY = "anonymous", "user", "other_user", "admin", "integration"
IDENTITIES = (ANON, USER, OTHER, ADMIN, KEY)

EVERYONE = frozenset(IDENTITIES)
PEOPLE = frozenset({USER, OTHER, ADMIN})  # any signed-in person, each acting for themselves
STAFF = frozenset({ADMIN})
PLATFORM = frozenset({ADMIN, KEY})
# The customer's own resource (named in the body), the platform, or an ADMIN: another customer is refused.
OWNER = frozenset({USER, ADMIN, KEY})

# Not walked: the Django admin has its own login (a redirect to it, not an API answer).
SKIPPED_PREFIXES = ("admin/",)


@dataclass(frozen=True)
class Route:
    methods: dict[str, frozenset[str]]
    kwargs: dict[str, str] = field(default_factory=dict)  # URL kwarg -> a key of api_world.ids
    body: str = ""  # a key of BODIES: a body that names the customer's own resource


def _cart(world) -> dict[str, Any]:
    return {
        "customer": {"id": world.customer.pk},
        "lines": [{"sku": world.ids["sku"], "quantity": 1, "unit_price": "100.00"}],
    }


def _points(world) -> dict[str, Any]:
    return {
        "customer": {"id": world.customer.pk},
        "program_id": int(world.ids["program"]),
        "points": 1,
        "order_id": "RM-1",
    }


BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {"cart": _cart, "points": _points}

CAMPAIGN = {"pk": "campaign"}
DISCOUNT = {"pk": "discount"}
SEGMENT = {"pk": "segment"}
PROGRAM = {"pk": "program"}
PROMOTION = {"pk": "promotion"}
CRUD = {"GET": STAFF, "PATCH": STAFF, "DELETE": STAFF}
LIST_CREATE = {"GET": STAFF, "POST": STAFF}

# Keyed by URL name; a route without a name of its own by its pattern (e.g. "api/v1/me/").
ROUTES: dict[str, Route] = {
    # Sign-up, sign-in and recovery: open to everyone.
    "auth-otp-send": Route({"POST": EVERYONE}),
    "auth-otp-verify": Route({"POST": EVERYONE}),
    "auth-signup": Route({"POST": EVERYONE}),
    "auth-signin": Route({"POST": EVERYONE}),
    "auth-token-refresh": Route({"POST": EVERYONE}),
    "auth-signout": Route({"POST": EVERYONE}),
    "auth-password-forgot": Route({"POST": EVERYONE}),
    "auth-password-reset": Route({"GET": EVERYONE, "POST": EVERYONE}),
    "me": Route({"GET": PEOPLE, "PATCH": PEOPLE}),
    "user-list": Route({"GET": STAFF}),
    "user-detail": Route({"GET": STAFF, "PATCH": STAFF}, {"pk": "customer"}),
    # The e-commerce mirror: the integration, or an ADMIN.
    "commerce-products-bulk": Route({"POST": PLATFORM}),
    "commerce-customers-bulk": Route({"POST": PLATFORM}),
    "commerce-orders-bulk": Route({"POST": PLATFORM}),
    "commerce-events": Route({"POST": PLATFORM}),
    "commerce-product-list": Route({"GET": PLATFORM}),
    "commerce-product-detail": Route({"GET": PLATFORM}, {"sku": "sku"}),
    "commerce-order-list": Route({"GET": PLATFORM, "POST": PLATFORM}),
    "commerce-order-detail": Route({"GET": PLATFORM, "PATCH": PLATFORM}, {"external_id": "order"}),
    # Segments, campaigns and programs: ADMIN (or a staff user with the model permission).
    "segment-list": Route(LIST_CREATE),
    "segment-criteria": Route({"GET": STAFF}),
    "segment-preview": Route({"POST": STAFF}),
    "segment-detail": Route(CRUD, SEGMENT),
    "segment-members": Route({"GET": STAFF, "PUT": STAFF}, SEGMENT),
    "segment-members-export": Route({"GET": STAFF}, SEGMENT),
    "segment-refresh": Route({"POST": STAFF}, SEGMENT),
    "campaign-list": Route({"GET": STAFF}),
    "campaign-detail": Route(CRUD, CAMPAIGN),
    "campaign-status": Route({"PATCH": STAFF}, CAMPAIGN),
    "campaign-discount-list": Route(LIST_CREATE),
    "campaign-discount-active": Route({"GET": STAFF}),
    "campaign-codes": Route({"GET": STAFF, "POST": STAFF}, DISCOUNT),
    "campaign-codes-export": Route({"GET": STAFF}, DISCOUNT),
    "campaign-codes-import": Route({"POST": STAFF}, DISCOUNT),
    "campaign-codes-assign": Route({"POST": STAFF}, DISCOUNT),
    "campaign-codes-distribute": Route({"POST": STAFF}, DISCOUNT),
    "campaign-simulate": Route({"POST": STAFF}, DISCOUNT),
    "program-simulate": Route({"POST": STAFF}, PROGRAM),
    "simulation-detail": Route({"GET": STAFF}, {"pk": "simulation"}),
    "loyalty-program-list": Route(LIST_CREATE),
    "loyalty-program-detail": Route(CRUD, PROGRAM),
    "loyalty-program-status": Route({"PATCH": STAFF}, PROGRAM),
    "promotion-list": Route(LIST_CREATE),
    "promotion-detail": Route(CRUD, PROMOTION),
    "promotion-send": Route({"POST": STAFF}, PROMOTION),
    "promotion-cancel": Route({"POST": STAFF}, PROMOTION),
    # A customer's feed: their own, so any signed-in person.
    "promotion-feed": Route({"GET": PEOPLE}),
    # Checkout: a customer evaluates their own cart; redemptions are the platform's.
    "cart-evaluate": Route({"POST": OWNER}, body="cart"),
    "redemption-create": Route({"POST": PLATFORM}),
    # Offers: a customer's own (each customer theirs), or any customer's (or a guest's) for the platform.
    "me-offers": Route({"GET": OWNER | {OTHER}}),
    "redemption-detail": Route({"GET": PLATFORM}, {"order_id": "order"}),
    "redemption-void": Route({"POST": PLATFORM}, {"order_id": "order"}),
    # Points: a customer's own, or the platform's for any customer.
    "loyalty-me": Route({"GET": PEOPLE}),
    "loyalty-me-transactions": Route({"GET": PEOPLE}),
    "loyalty-redeem": Route({"POST": OWNER}, body="points"),
    "loyalty-adjust": Route({"POST": PLATFORM}, {"customer": "customer"}),
    "loyalty-customer-transactions": Route({"GET": PLATFORM}, {"customer": "customer"}),
    # Notifications: a person's own inbox, preferences and devices (another's id is a 404);
    # deliveries, messages, the test send and retries: ADMIN (or staff with the model permission).
    "notification-list": Route({"GET": PEOPLE}),
    "notification-read": Route({"POST": PEOPLE}, {"pk": "inbox_item"}),
    "notification-read-all": Route({"POST": PEOPLE}),
    "notification-preferences": Route({"GET": PEOPLE, "PATCH": PEOPLE}),
    "notification-devices": Route({"POST": PEOPLE}),
    "notification-device": Route({"DELETE": PEOPLE}, {"device": "push_device"}),
    "notification-delivery-list": Route({"GET": STAFF}),
    "notification-delivery-retry": Route({"POST": STAFF}),
    "notification-message-list": Route({"GET": STAFF}),
    "notification-message-detail": Route({"GET": STAFF}, {"pk": "message"}),
    "notification-test": Route({"POST": STAFF}),
    # Docs and liveness: public.
    "schema": Route({"GET": EVERYONE}),
    "swagger-ui": Route({"GET": EVERYONE}),
    "redoc": Route({"GET": EVERYONE}),
    "healthz": Route({"GET": EVERYONE}),
    "readyz": Route({"GET": EVERYONE}),
    # Off in the tests (404 to everyone); when on, METRICS_TOKEN guards it, not who the caller is.
    "metrics": Route({"GET": EVERYONE}),
    "favicon": Route({"GET": EVERYONE}),
    # The console's front door (a redirect to it, whatever the method).
    "home": Route({method: EVERYONE for method in ("GET", "POST", "PUT", "PATCH", "DELETE")}),
    # An /api/ path no route matched: the other spelling of a route (served in place, with that
    # route's own door), else a JSON 404 for everyone.
    "api-fallback": Route({"GET": EVERYONE}, {"rest": "api_other_spelling"}),
    # Seed routes: the canonical views, so every method of the view answers there too.
    "seed-auth/signin": Route({"POST": EVERYONE}),
    "seed-auth/forget-password": Route({"POST": EVERYONE}),
    "seed-auth/reset-password": Route({"GET": EVERYONE, "POST": EVERYONE}),
    "seed-user/send-otp": Route({"POST": EVERYONE}),
    "seed-user/verify-otp": Route({"POST": EVERYONE}),
    "seed-user/signup": Route({"POST": EVERYONE}),
    "seed-campaigns/discount-coupon/create": Route(LIST_CREATE),
    "seed-campaigns/get": Route({"GET": STAFF}),
    "seed-campaigns/discount-coupon/active": Route({"GET": STAFF}),
    "seed-campaigns/discount-coupon/<int-pk>/status": Route({"PATCH": STAFF}, CAMPAIGN),
    "seed-campaigns/coupon/<int-pk>": Route(CRUD, CAMPAIGN),
    "seed-campaigns/loyaltyprogram/create": Route(LIST_CREATE),
    "seed-segment/create": Route(LIST_CREATE),
    "seed-segment/get": Route(LIST_CREATE),
    "seed-segment/<int-pk>": Route(CRUD, SEGMENT),
    "seed-promotion": Route(LIST_CREATE),
    "seed-promotion/get": Route(LIST_CREATE),
    "seed-promotion/delete/<int-pk>": Route(CRUD, PROMOTION),
    "seed-notifications": Route({"GET": PEOPLE}),
    # Links inside notifications: a signed token is the only credential (a person opens them
    # from a mail, a mail client POSTs the one-click unsubscribe).
    "notification-click": Route({"GET": EVERYONE}, {"token": "notification_click"}),
    "notification-unsubscribe": Route({"GET": EVERYONE, "POST": EVERYONE}, {"token": "notification_unsubscribe"}),
}


def _patterns(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> set[str] | None:
    """The HTTP methods a route answers (OPTIONS and HEAD aside): a viewset's actions, a class-based
    view's handlers; None for a plain function view, whose table entry says which methods it takes."""
    callback = pattern.callback
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return None
    handled = getattr(callback, "actions", None) or [m for m in view.http_method_names if hasattr(view, m)]
    return {method.upper() for method in handled} - {"OPTIONS", "HEAD"}


def routes_of_the_urlconf() -> dict[str, tuple[str, set[str] | None]]:
    """Every route outside SKIPPED_PREFIXES: its name -> (pattern, methods); an unnamed route, or a
    second route with a name already taken, is keyed by its pattern."""
    found = {}
    for route, pattern in _patterns(get_resolver().url_patterns):
        if not route.startswith(SKIPPED_PREFIXES):
            key = pattern.name if pattern.name and pattern.name not in found else route
            found[key] = (route, _methods(pattern))
    return found


def test_every_route_and_method_has_an_entry_in_the_table():
    missing, stale = [], []
    urlconf = routes_of_the_urlconf()
    for key, (route, methods) in urlconf.items():
        listed = set(ROUTES[key].methods) if key in ROUTES else set()
        if methods is None:
            missing += [] if listed else [f"{route} (a function view {key!r}: list the methods it answers)"]
            continue
        missing += [f"{method} {route} (name {key!r})" for method in sorted(methods - listed)]
        stale += [f"{method} {key}" for method in sorted(listed - methods)]
    stale += [key for key in ROUTES if key not in urlconf]

    assert not missing, "Routes without an entry in ROUTES (say who may call them):\n" + "\n".join(missing)
    assert not stale, "Entries in ROUTES for routes or methods that do not exist:\n" + "\n".join(stale)


def _url(key: str, route: str, kwargs: dict[str, str]) -> str:
    if key != route:  # a named route
        return reverse(key, kwargs=kwargs)
    assert not re.search(r"[<>^$()?*+\\]", route), f"Name the route {route!r}: it has parameters to fill in."
    return "/" + route


def _call(client: APIClient, method: str, url: str, body: dict[str, Any]):
    # Each call is rolled back, so a DELETE or PATCH of one identity never changes another's view.
    with transaction.atomic():
        response = getattr(client, method.lower())(url, body, format="json")
        transaction.set_rollback(True)
    return response


@pytest.mark.django_db
def test_each_identity_gets_past_the_door_only_where_the_table_allows(api_world, unthrottled):
    clients = {}
    for identity in IDENTITIES:
        clients[identity] = APIClient()
        clients[identity].credentials(**{f"HTTP_{k.upper()}": v for k, v in api_world.headers_for(identity).items()})
    wrong = []

    for key, (route, methods) in sorted(routes_of_the_urlconf().items()):
        entry = ROUTES.get(key)
        if entry is None or not (methods or set()) <= entry.methods.keys():
            wrong.append(f"{route} ({key!r}): no entry in ROUTES for some of {sorted(methods or ['its methods'])}")
            continue
        url = _url(key, route, {kwarg: api_world.ids[kind] for kwarg, kind in entry.kwargs.items()})
        body = BODIES[entry.body](api_world) if entry.body else {}
        for method in sorted(entry.methods):
            allowed = entry.methods[method]
            for identity in IDENTITIES:
                status = _call(clients[identity], method, url, body).status_code
                if identity in allowed and method == "GET" and entry.kwargs:
                    ok = 200 <= status < 400  # 2xx, or the tracked link's redirect
                elif identity in allowed:
                    ok = status not in (401, 403)
                else:
                    ok = status == 401 if identity == ANON else status in (401, 403)
                if not ok:
                    verdict = "allowed" if identity in allowed else "refused"
                    wrong.append(f"{method} {url} as {identity}: {status}, but the table says {verdict}")

    assert not wrong, "\n".join(wrong)
