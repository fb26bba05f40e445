"""The multi-process test's world and workload (lms/tests/test_multiprocess.py): what exists
before the clients start, the marketer's set-up through the API, and the client jobs (checkouts,
orders, refunds, voids, points spends), each recording the answers it got for the assertions."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from accounts.models import Role, User
from commerce.tests.factories import ProductFactory, order_body, order_line_body
from lms.tests.processes import Traffic

AUDIENCE = 300  # customers the promotion goes to
SHARED_LIMIT = 20  # uses of the shared code, in all
SHARED_ATTEMPTS = 40
UNIQUE_CODES = 10
UNIQUE_MAX_USES = 4  # per code: 40 uses possible, the budget allows 30
BUDGET = Decimal("3000.00")
DISCOUNT = Decimal("100.00")  # 10% of every checkout's 1,000.00 cart
UNIQUE_ATTEMPTS = 50
REDEMPTION_PAIRS = 8  # of the attempts above, sent to both servers at once
BUYERS_WITH_THREE = 10  # customers with three orders each, ingested at once
BUYERS_WITH_ONE = 30
ORDER_PAIRS = 15  # orders sent to both servers at once with the same body
FULL_REFUNDS = 8  # of the single-order customers
PARTIAL_REFUNDS = 6  # one unit of two, sent to both servers at once with one change id
VOIDS = 5  # shared-code checkouts voided on both servers at once
POINTS_ASKED = 500  # each three-order customer spends this 4 times at once; its 1,600 points pay 3
POINTS_PER_ORDER = 500  # 1 point per rupee of 2 x 250.00
BONUS = 100
CLIENT_THREADS = 8
PASSWORD = "multi-process-admin-pw-1"


def world_make() -> dict:
    """What exists before the clients start: an ADMIN (a scrypt password: the servers run the
    production hashers), the integration's key, the catalogue and the promotion's audience."""
    User.objects.create(
        email="mp-admin@example.com", role=Role.ADMIN, is_staff=True, password=make_password(PASSWORD, hasher="scrypt")
    )
    _, key = APIKey.objects.create_key(name="storefront")
    for sku in ("MP-1", "MP-2", "MP-3"):
        ProductFactory(sku=sku, price=Decimal("250.00"))
    User.objects.bulk_create(
        User(email=f"mp{i}@example.com", first_name=f"Mp{i}", role=Role.USER, password="!", marketing_email=True)
        for i in range(AUDIENCE)
    )
    audience = list(User.objects.filter(email__startswith="mp", role=Role.USER).order_by("pk"))
    return {"integration": {"Authorization": f"Api-Key {key}"}, "audience": audience}


def set_up_through_the_api(traffic: Traffic, world: dict) -> dict:
    """The marketer's part, through the API as an ADMIN: the two campaigns and their codes, the
    loyalty program, the audience segment and the promotion (a draft)."""
    server = traffic.servers[0]
    signed_in = traffic.call(
        server, "POST", "/api/v1/auth/signin", {"email": "mp-admin@example.com", "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in.body
    admin = {"Authorization": f"Bearer {signed_in.body['access']}"}
    now = timezone.now()
    window = {"starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}
    rules = [{"rule_type": "WHOLE_CART", "discount_type": "PERCENTAGE", "value": "10"}]

    def create(path: str, body: dict, status: int = 201) -> dict:
        answer = traffic.call(server, "POST", path, body, admin)
        assert answer.status == status, (path, answer.body)
        return answer.body

    common = {**window, "status": "ACTIVE", "redemption_type": "COUPON_CODE", "timezone": "UTC", "rules": rules}
    shared = create(
        "/api/v1/campaigns/discounts/", {**common, "name": "Shared", "code": "MPSHARED", "usage_limit": SHARED_LIMIT}
    )
    back = create("/api/v1/campaigns/discounts/", {**common, "name": "Back", "code": "MPBACK", "usage_limit": 100})
    unique = create(
        "/api/v1/campaigns/discounts/", {**common, "name": "Unique", "code_type": "UNIQUE", "budget": str(BUDGET)}
    )
    codes = [f"MPU{chr(ord('A') + i)}QRST" for i in range(UNIQUE_CODES)]
    imported = create(
        f"/api/v1/campaigns/discounts/{unique['id']}/codes/import", {"codes": codes, "max_uses": UNIQUE_MAX_USES}, 200
    )
    assert imported["created"] == UNIQUE_CODES, imported
    program = {
        "name": "Rewards",
        "starts_at": (now - timedelta(days=30)).isoformat(),
        "status": "ACTIVE",
        "timezone": "UTC",
        "rules": [
            {"rule_type": "POINTS_PER_RUPEE", "points_per_rupee": "1"},
            {"rule_type": "FIRST_PURCHASE_BONUS", "bonus_points": BONUS},
        ],
    }
    program_id = create("/api/v1/loyalty/programs/", program)["id"]
    members = [person.email for person in world["audience"]]
    segment = create("/api/v1/segments/", {"name": "Audience", "kind": "USER", "type": "STATIC", "members": members})
    promotion = create(
        "/api/v1/promotions/",
        {
            "title": "Hello {{ first_name }}",
            "description": "This week only, {{ first_name }}.",
            "cta_text": "Shop",
            "cta_url": "https://shop.example.com/week",
            "audience": "SEGMENTS",
            "segment_ids": [segment["id"]],
            "channels": ["EMAIL", "IN_APP"],
        },
    )
    return {
        "admin": admin,
        "shared": shared["id"],
        "back": back["id"],
        "unique": unique["id"],
        "codes": codes,
        "promotion": promotion["id"],
        "program": program_id,
    }


def cart() -> list[dict]:
    return [{"sku": "MP-1", "quantity": 4, "unit_price": "250.00"}]


def redemption_jobs(traffic: Traffic, world: dict, made: dict, outcomes: dict) -> list:
    """One job per checkout: the shared code over-asked, then the unique codes over their budget."""
    people = world["audience"]
    attempts = [("MPSHARED", f"R-S-{i}", people[i]) for i in range(SHARED_ATTEMPTS)]
    attempts += [
        (made["codes"][j % UNIQUE_CODES], f"R-U-{j}", people[SHARED_ATTEMPTS + j]) for j in range(UNIQUE_ATTEMPTS)
    ]
    paired = {order_id for i, (_, order_id, _) in enumerate(attempts) if i % 11 == 0}
    paired = set(sorted(paired)[:REDEMPTION_PAIRS])

    def job(code: str, order_id: str, person: User):
        def run() -> None:
            body = {"order_id": order_id, "customer": {"id": person.pk}, "codes": [code], "lines": cart()}
            if order_id in paired:
                answers = traffic.both("POST", "/api/v1/redemptions/", body, world["integration"])
            else:
                answers = [
                    traffic.call(traffic.next_server(), "POST", "/api/v1/redemptions/", body, world["integration"])
                ]
            outcomes[order_id] = answers

        return run

    return [job(*attempt) for attempt in attempts]


def buyers() -> list[tuple[dict, int]]:
    """(customer reference, number of orders): new customers, created by their first order."""
    buyers = [({"external_id": f"C-MP-{b}", "email": f"buyer{b}@example.com"}, 3) for b in range(BUYERS_WITH_THREE)]
    offset = BUYERS_WITH_THREE
    buyers += [
        ({"external_id": f"C-MP-{b}", "email": f"buyer{b}@example.com"}, 1)
        for b in range(offset, offset + BUYERS_WITH_ONE)
    ]
    return buyers


def _sku(external_id: str) -> str:
    return f"MP-{1 + int(external_id.rsplit('-', 1)[-1]) % 3}"


def _order(customer: dict, external_id: str, placed_at) -> dict:
    return order_body(
        external_id,
        customer=customer,
        lines=[order_line_body(_sku(external_id), 2, "250.00")],
        placed_at=placed_at.isoformat(),
        status="PAID",
    )


def order_jobs(traffic: Traffic, world: dict, outcomes: dict, checkouts: dict) -> list:
    """One job per order; a customer's orders are next to each other in the list, so they are
    ingested at once by different client threads (the first-purchase bonus races)."""
    start = timezone.now() - timedelta(hours=1)
    jobs = []
    n = 0
    single = -1
    for customer, count in buyers():
        single += count == 1
        for k in range(count):
            external_id = f"O-{customer['external_id']}-{k}"
            body = _order(customer, external_id, start + timedelta(seconds=n))
            both = n % 4 == 0 and n // 4 < ORDER_PAIRS
            n += 1

            # A checkout reaching the other server as its order arrives: the second order of a
            # three-order customer (both requests may be the first to meet this new customer,
            # no code), and the order of a customer who will return it (with the MPBACK code).
            returned = count == 1 and single < FULL_REFUNDS
            codes = ["MPBACK"] if returned else []
            checkout = returned or (count == 3 and k == 1)

            def run(body=body, both=both, checkout=checkout, codes=codes, external_id=external_id) -> None:
                ingest = ("POST", "/api/v1/commerce/orders/", body, world["integration"])
                calls = [(traffic.servers[0], *ingest)] + ([(traffic.servers[1], *ingest)] if both else [])
                if checkout:
                    redemption = {
                        "order_id": external_id,
                        "customer": body["customer"],
                        "lines": cart(),
                        "codes": codes,
                    }
                    calls.append((traffic.servers[1], "POST", "/api/v1/redemptions/", redemption, world["integration"]))
                if len(calls) == 1:
                    answers = [traffic.call(traffic.next_server(), *ingest)]
                else:
                    answers = traffic.at_once(calls)
                if checkout:
                    checkouts[external_id] = answers.pop()
                outcomes[external_id] = answers

            jobs.append(run)
    return jobs


def refund_jobs(traffic: Traffic, world: dict, outcomes: dict, returns: dict) -> tuple[list, dict[str, int]]:
    """Single-order customers' returns: full refunds racing their checkout's void on the other
    server, and partial ones (one unit of two) on both servers at once with one change id; and
    the points each customer should hold at the end."""
    expected = {}
    jobs = []
    for customer, count in buyers():
        # A three-order customer also spends POINTS_ASKED three times (points_jobs).
        spent = 3 * POINTS_ASKED if count == 3 else 0
        expected[customer["external_id"]] = count * POINTS_PER_ORDER + BONUS - spent
    singles = [customer["external_id"] for customer, count in buyers() if count == 1]
    for index, customer_id in enumerate(singles[: FULL_REFUNDS + PARTIAL_REFUNDS]):
        external_id = f"O-{customer_id}-0"
        path = f"/api/v1/commerce/orders/{external_id}/"
        if index < FULL_REFUNDS:
            expected[customer_id] = 0

            # The return on one server and its checkout's void on the other, at once: the
            # code's use comes back once.
            def run(path=path, external_id=external_id, index=index) -> None:
                refund = (traffic.servers[index % 2], "PATCH", path, {"status": "REFUNDED", "reason": "returned"})
                void = (traffic.servers[1 - index % 2], "POST", f"/api/v1/redemptions/{external_id}/void", {})
                answers = traffic.at_once([(*refund, world["integration"]), (*void, world["integration"])])
                returns[external_id] = answers.pop()
                outcomes[external_id] = answers

        else:
            # Half the units: half of each earning (the bonus too) is reversed.
            expected[customer_id] = (POINTS_PER_ORDER + BONUS) // 2
            n = int(customer_id.rsplit("-", 1)[-1])

            def run(path=path, external_id=external_id, n=n) -> None:
                lines = [{"sku": _sku(external_id), "quantity": 1}]
                body = {"status": "REFUNDED", "refund_lines": lines, "change_id": f"rf-{n}"}
                outcomes[external_id] = traffic.both("PATCH", path, body, world["integration"])

        jobs.append(run)
    return jobs, expected


def void_jobs(traffic: Traffic, world: dict, redeemed: dict, outcomes: dict) -> list:
    """Voids of shared-code checkouts, each on both servers at once: the use comes back once."""
    made = sorted(
        order_id
        for order_id, answers in redeemed.items()
        if order_id.startswith("R-S-") and 201 in {a.status for a in answers}
    )

    def job(order_id: str):
        def run() -> None:
            path = f"/api/v1/redemptions/{order_id}/void"
            outcomes[order_id] = traffic.both("POST", path, {"reason": "cancelled"}, world["integration"])

        return run

    return [job(order_id) for order_id in made[:VOIDS]]


def points_jobs(traffic: Traffic, world: dict, made: dict, outcomes: dict) -> list:
    """Each three-order customer spends points four times at once (five calls, both servers)."""
    jobs = []
    for customer, count in buyers():
        if count != 3:
            continue
        for k in range(4):
            body = {
                "program_id": made["program"],
                "points": POINTS_ASKED,
                "order_id": f"PR-{customer['external_id']}-{k}",
                "customer": {"external_id": customer["external_id"]},
            }

            def run(body=body, k=k) -> None:
                call = ("POST", "/api/v1/loyalty/redeem", body, world["integration"])
                # The first spend also goes to both servers at once (one order id): paid once.
                answers = traffic.both(*call) if k == 0 else [traffic.call(traffic.servers[k % 2], *call)]
                outcomes[body["order_id"]] = answers

            jobs.append(run)
    return jobs


def interleave(*lists: list) -> list:
    out = []
    for i in range(max(len(x) for x in lists)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def run_jobs(jobs: list) -> None:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result(timeout=120)
