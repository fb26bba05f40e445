"""Points as a checkout discount line: the ``campaigns.points.PointsProvider`` loyalty registers."""

import datetime as dt
from decimal import Decimal

from campaigns.engine import types as t
from campaigns.models import OrderRedemption
from campaigns.points import POINTS_REASONS, PointsQuote, PointsRequest
from lms.errors import Conflict
from loyalty import engine as e
from loyalty.models import LoyaltyAccount
from loyalty.selectors import available_points
from loyalty.services.ledger import points_give_back, points_redeem, program_get


def _rejected(program_id: int, reason: str, message: str = "") -> t.Rejected:
    return t.Rejected(reason=reason, message=message or POINTS_REASONS[reason], campaign_id=program_id)


class LoyaltyPoints:
    def quote(
        self, *, customer_id: int, request: PointsRequest, payable: Decimal, currency: str, at: dt.datetime
    ) -> PointsQuote | t.Rejected:
        program = program_get(request.program_id, path="use_points.program_id")
        if not program.live or at < program.campaign.starts_at:
            return _rejected(program.id, "points_unavailable", "The program is switched off or has not started.")
        if program.campaign.currency != currency:
            return _rejected(
                program.id, "points_unavailable", f"The program's points pay in {program.campaign.currency}."
            )
        account = LoyaltyAccount.objects.filter(customer_id=customer_id, program_id=program.id).only("balance").first()
        # Pending points, and points past their date (even before the nightly run), are not spendable.
        balance = available_points(account, now=at) if account else 0
        if request.points < program.min_redeem_points:
            return _rejected(
                program.id, "below_min_points", f"At least {program.min_redeem_points} points are redeemed at once."
            )
        if request.points > balance:
            return _rejected(
                program.id, "insufficient_points", f"The balance is {balance} points; {request.points} asked."
            )
        points = min(request.points, e.points_affordable(payable, program.point_value))
        if points < program.min_redeem_points:
            return _rejected(program.id, "below_min_points", "The cart costs less than the fewest points redeemable.")
        return PointsQuote(
            program_id=program.id,
            name=program.name,
            points=points,
            value=e.points_value(points, program.point_value),
            balance=balance,
        )

    def spend(self, *, customer_id: int, quote: PointsQuote, order_id: str, at: dt.datetime) -> None:
        redeemed = points_redeem(
            customer_id=customer_id, program_id=quote.program_id, points=quote.points, order_id=order_id,
            value=quote.value,
        )  # fmt: skip
        if not redeemed.created:
            raise Conflict("order_points_redeemed", f"Order {order_id} already spent points through /loyalty/redeem.")

    def give_back(self, *, order_id: str, reason: str) -> None:
        # The checkout's own customer: another customer's /loyalty/redeem under the same
        # order id is theirs and stays spent.
        customer_id = OrderRedemption.objects.filter(order_id=order_id).values_list("customer_id", flat=True).first()
        if customer_id is not None:
            points_give_back(customer_id=customer_id, order_id=order_id, reason=reason)


provider = LoyaltyPoints()
