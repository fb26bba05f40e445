"""The console's sidebar: marketers' sections first, the System section for superusers only.

Each entry names a model's changelist; a staff user sees an entry only when their permissions
let them open it, and a section only when it has an entry left."""

from collections.abc import Callable

from django.http import HttpRequest
from django.urls import reverse_lazy

from lms.admin import superuser

# (section, [(title, material-symbols icon, "app_label.model_name")]).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Campaigns",
        (
            ("Campaigns", "sell", "campaigns.campaign"),
            ("Coupon codes", "confirmation_number", "campaigns.couponcode"),
            ("Redemptions", "redeem", "campaigns.redemption"),
            ("Orders with campaigns", "receipt_long", "campaigns.orderredemption"),
        ),
    ),
    (
        "Loyalty",
        (
            ("Programs", "loyalty", "loyalty.loyaltyprogram"),
            ("Members", "card_membership", "loyalty.loyaltyaccount"),
            ("Points ledger", "account_balance_wallet", "loyalty.pointstransaction"),
        ),
    ),
    (
        "Audience",
        (
            ("Customers", "person", "accounts.user"),
            ("Segments", "group_work", "segments.segment"),
        ),
    ),
    (
        "Promotions and messages",
        (
            ("Promotions", "campaign", "promotions.promotion"),
            ("Messages", "mail", "notifications.message"),
            ("Deliveries", "outbox", "notifications.delivery"),
            ("Preferences", "tune", "notifications.preference"),
            ("Push devices", "smartphone", "notifications.pushdevice"),
        ),
    ),
    (
        "Catalogue and orders",
        (
            ("Products", "inventory_2", "commerce.product"),
            ("Categories", "category", "commerce.category"),
            ("Brands", "storefront", "commerce.brand"),
            ("Orders", "shopping_cart", "commerce.order"),
            ("Refund lines", "undo", "commerce.refundline"),
            ("Interaction events", "touch_app", "commerce.interactionevent"),
        ),
    ),
)
SYSTEM: tuple[tuple[str, str, str], ...] = (
    ("Staff", "badge", "console.staffuser"),
    ("Groups", "groups", "auth.group"),
    ("API keys", "key", "rest_framework_api_key.apikey"),
    ("Login events", "login", "accounts.loginevent"),
    ("Sign-in codes", "pin", "accounts.emailotp"),
    ("Session tokens", "token", "token_blacklist.outstandingtoken"),
    ("Revoked tokens", "block", "token_blacklist.blacklistedtoken"),
)


def may_open(label: str) -> Callable[[HttpRequest], bool]:
    app_label, model_name = label.split(".")

    def check(request: HttpRequest) -> bool:
        user = request.user
        return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(f"{app_label}.change_{model_name}")

    return check


def _item(title: str, icon: str, label: str, permission: Callable[[HttpRequest], bool]) -> dict:
    app_label, model_name = label.split(".")
    link = reverse_lazy(f"admin:{app_label}_{model_name}_changelist")
    return {"title": title, "icon": icon, "link": link, "permission": permission}


def sidebar(request: HttpRequest) -> list[dict]:
    """UNFOLD["SIDEBAR"]["navigation"]: the sections this request's user may open."""
    sections = [
        {
            "title": "Overview",
            "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse_lazy("admin:index")}],
        }
    ]
    for title, entries in SECTIONS:
        items = [_item(name, icon, label, may_open(label)) for name, icon, label in entries]
        if any(item["permission"](request) for item in items):
            sections.append({"title": title, "collapsible": False, "items": items})
    if superuser(request):
        items = [_item(name, icon, label, superuser) for name, icon, label in SYSTEM]
        sections.append({"title": "System", "collapsible": True, "items": items})
    return sections
