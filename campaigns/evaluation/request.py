"""What an evaluation is asked and what it answers, and how far its pinned time may lie from now."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import User
from campaigns.engine import types as t
from campaigns.points import PointsQuote, PointsRequest
from lms.errors import Invalid

# A pinned evaluation time may lie this far in the past (checkout evaluated, redeemed later):
# the snapshot keeps campaigns that ended within it so the redemption still finds them.
AT_GRACE = dt.timedelta(days=1)
# ... a year ahead for previews, and no later than now (a little clock skew aside) for a
# redemption, which must not use a campaign before it starts or a limit of a period not yet begun.
AHEAD_PREVIEW = dt.timedelta(days=366)
AHEAD_REDEEM = dt.timedelta(minutes=5)


def pinned_at(at: dt.datetime | None, *, redeem: bool = False) -> dt.datetime:
    """The time a cart is judged at: ``at`` when given and within the bounds above, else now."""
    now = timezone.now()
    if at is None:
        return now
    if at < now - AT_GRACE:
        raise Invalid("at_too_old", "`at` may pin a time at most a day ago.", path="at")
    if at > now + (AHEAD_REDEEM if redeem else AHEAD_PREVIEW):
        limit = "now" if redeem else "a year from now"
        raise Invalid("at_in_future", f"`at` may pin a time up to {limit}.", path="at")
    return at


@dataclass
class CartRequest:
    """A validated evaluate (or redemption) body, with the customer already resolved."""

    lines: list[dict[str, Any]]
    at: dt.datetime
    customer: User | None = None
    customer_known: bool = False  # an identity was given, even if we have no record yet
    codes: list[str] = field(default_factory=list)
    shipping: Decimal = Decimal("0.00")
    currency: str = "INR"
    location: dict[str, str] = field(default_factory=dict)
    order_id: str = ""
    use_points: PointsRequest | None = None


@dataclass(frozen=True)
class Evaluation:
    result: t.Result
    coupon_codes: dict[str, int]  # upper-cased code -> CouponCode id, for the single-use codes used
    campaigns: dict[int, t.Campaign]  # the campaigns judged, as judged (limits and budgets)
    points: PointsQuote | None = None  # the points spent as a discount line, if asked and allowed
