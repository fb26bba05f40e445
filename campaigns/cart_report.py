"""The engine's answer in a marketer's words, for the test-cart pages: what applied (and which
cap bit), what was refused and why, and how stacking decided."""

from dataclasses import dataclass, field

from django.conf import settings

from campaigns.engine import types as t
from campaigns.evaluation import Evaluation

# Engine reason codes -> what a marketer reads. A code the map lacks shows the engine's message.
REASON_WORDS: dict[str, str] = {
    "code_unknown": "No live campaign has this code.",
    "code_used": "This single-use code has already been used.",
    "code_duplicate": "This code, or another code of the same campaign, was typed twice.",
    "code_not_yours": "This code was given to another customer.",
    "not_started": "It has not started yet.",
    "expired": "It has ended.",
    "inactive": "It is switched off or archived.",
    "outside_days": "It does not run on this day of the week.",
    "outside_hours": "It does not run at this time of day.",
    "currency": "It is in another currency than the cart.",
    "geo": "It does not run where this customer is (country, state or city).",
    "audience": "It is for other customers (new customers only, or existing ones only).",
    "segment": "This customer is not in its segments.",
    "customer_required": "It is for known customers: pick a customer to test it.",
    "min_cart": "The cart is below its minimum cart value.",
    "no_matching_items": "No product in the cart is one it discounts.",
    "min_quantity": "The cart has too few of its products.",
    "nothing_to_discount": "It gives nothing on this cart: the items are already fully discounted.",
    "usage_limit": "Its maximum number of uses is reached.",
    "customer_limit": "This customer has used it as often as allowed.",
    "budget_exhausted": "Its discount budget would be exceeded (a campaign applies in full or not at all).",
    "not_stackable": "Another campaign applied and the two do not combine.",
    "insufficient_points": "The customer does not have enough points.",
}
CAP_REASONS = {
    "usage_limit": "Maximum uses",
    "customer_limit": "Per-customer limit",
    "budget_exhausted": "Budget",
}
POLICY_WORDS = {
    t.EXCLUSIVE_PRIORITY: "by priority: the first exclusive campaign (highest priority) that gives something "
    "applies alone and nothing else applies.",
    t.EXCLUSIVE_BEST: "by value: the exclusive campaign giving the most is weighed against all the other "
    "campaigns together, and the customer gets the larger discount.",
}
LANES = {t.FREE_SHIPPING: "shipping"}


@dataclass
class Refusal:
    campaign: str
    campaign_id: int | None
    code: str
    words: str
    detail: str  # the engine's own sentence when it says more (amounts, dates)


@dataclass
class Cap:
    campaign: str
    cap: str
    words: str


@dataclass
class Considered:
    campaign: str
    campaign_id: int
    priority: int
    exclusive: bool
    stackable: bool
    lane: str
    outcome: str


@dataclass
class CartReport:
    result: t.Result
    applied: list[t.Applied]
    refused: list[Refusal] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)
    considered: list[Considered] = field(default_factory=list)
    policy: str = ""
    exclusive: str = ""


def reason_words(rejected: t.Rejected) -> tuple[str, str]:
    """(the marketer's sentence, the engine's message when it says something else)."""
    words = REASON_WORDS.get(rejected.reason)
    if words is None:
        return rejected.message, ""
    return words, "" if rejected.message == t.REASONS.get(rejected.reason) else rejected.message


def _capped(campaign: t.Campaign, applied: t.Applied) -> str:
    if campaign.max_discount is not None and applied.amount == campaign.max_discount:
        return f"Capped at its maximum discount of {campaign.max_discount} per order."
    capped_rules = [r.max_discount for r in campaign.rules if r.max_discount is not None]
    if len(campaign.rules) == 1 and capped_rules and applied.amount + applied.shipping_amount == capped_rules[0]:
        return f"Capped at its rule's maximum discount of {capped_rules[0]}."
    return ""


def cart_report(evaluation: Evaluation, *, policy: str | None = None) -> CartReport:
    """The evaluation told for the console: no engine codes, every campaign named."""
    result = evaluation.result
    campaigns = evaluation.campaigns
    report = CartReport(result=result, applied=list(result.discounts))
    policy = policy or settings.CAMPAIGNS_EXCLUSIVE_POLICY
    report.policy = POLICY_WORDS.get(policy, policy)
    report.exclusive = result.exclusive.message if result.exclusive is not None else ""
    outcomes: dict[int, str] = {}
    for applied in result.discounts:
        outcomes[applied.campaign_id] = f"Applied: {applied.amount + applied.shipping_amount} off."
        campaign = campaigns.get(applied.campaign_id)
        note = _capped(campaign, applied) if campaign is not None else ""
        if note:
            report.caps.append(Cap(applied.name, "Maximum discount", note))
    for rejected in result.rejected:
        campaign = campaigns.get(rejected.campaign_id) if rejected.campaign_id is not None else None
        name = campaign.name if campaign is not None else "(no campaign)"
        words, detail = reason_words(rejected)
        report.refused.append(Refusal(name, rejected.campaign_id, rejected.code or "", words, detail))
        if rejected.campaign_id is not None:
            outcomes.setdefault(rejected.campaign_id, f"Not applied: {words}")
        if rejected.reason in CAP_REASONS:
            report.caps.append(Cap(name, CAP_REASONS[rejected.reason], detail or words))
    for campaign in sorted(campaigns.values(), key=lambda c: (-c.priority, c.id)):
        report.considered.append(
            Considered(
                campaign=campaign.name,
                campaign_id=campaign.id,
                priority=campaign.priority,
                exclusive=campaign.exclusive,
                stackable=campaign.stackable,
                lane=LANES.get(campaign.kind, "items"),
                outcome=outcomes.get(campaign.id, "Not applied: nothing to say on this cart."),
            )
        )
    return report
