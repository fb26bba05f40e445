"""Checks that do not depend on the cart's lines: the codes typed, and eligibility checks 1-5
of ``evaluate``'s docstring (``precheck``), with the verdict type every check answers."""

from dataclasses import dataclass, field

from campaigns.engine.eligibility import audience_refusal, geo_refusal
from campaigns.engine.money import money_text
from campaigns.engine.schedule import schedule_failure, uses_this_period
from campaigns.engine.types import (
    AUDIENCE_ALL,
    LOYALTY_PROGRAM,
    PERIOD_LIFETIME,
    REASONS,
    Campaign,
    Context,
    Counter,
    Hint,
    Rejected,
    Usage,
)

NO_COUNTER, NO_USAGE = Counter(), Usage()  # frozen: shared by every campaign never used


@dataclass(slots=True)
class Verdict:
    """One campaign judged on one state of the cart."""

    reason: str | None = None
    message: str = ""
    quiet: bool = False  # an AUTOMATIC campaign keeps this reason to itself
    items: dict[int, int] = field(default_factory=dict)  # line index -> cents (sparse)
    shipping: int = 0  # cents
    hints: list[Hint] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def items_total(self) -> int:
        return sum(self.items.values())

    @property
    def benefit(self) -> int:  # cents, items and shipping
        return sum(self.items.values()) + self.shipping


def fail(reason: str, message: str = "", *, quiet: bool = False, hints: list[Hint] | None = None) -> Verdict:
    return Verdict(reason, message or REASONS[reason], quiet, hints=hints or [])


def known_campaigns(campaigns) -> dict[int, Campaign]:
    """The campaigns by id, first of each id kept, loyalty programs left out."""
    known: dict[int, Campaign] = {}
    for campaign in campaigns:
        if campaign.kind != LOYALTY_PROGRAM and campaign.id not in known:
            known[campaign.id] = campaign
    return known


def resolve_codes(context: Context, known: dict[int, Campaign]) -> tuple[list[Rejected], dict[int, str]]:
    """The codes' rejections, and campaign id -> the accepted code naming it."""
    rejections: list[Rejected] = []
    accepted: dict[int, str] = {}
    seen: set[str] = set()
    for fact in context.codes:
        key = fact.code.strip().casefold()
        campaign_id = fact.campaign_id if fact.campaign_id in known else None
        if key in seen:
            rejections.append(
                Rejected("code_duplicate", f"The code {fact.code} was given twice.", campaign_id, fact.code)
            )
        elif campaign_id is None:
            rejections.append(Rejected("code_unknown", f"No campaign has the code {fact.code}.", None, fact.code))
        elif fact.assigned and (context.customer_id is None or fact.owner_id != context.customer_id):
            message = f"The code {fact.code} was given to another customer; only they can use it."
            rejections.append(Rejected("code_not_yours", message, None, fact.code))
        elif campaign_id in accepted:
            message = f"The code {fact.code} is for the same campaign as {accepted[campaign_id]}."
            rejections.append(Rejected("code_duplicate", message, campaign_id, fact.code))
        elif fact.single_use and fact.uses >= fact.max_uses:
            message = f"The code {fact.code} has been used (used {fact.uses} of {fact.max_uses} times)."
            rejections.append(Rejected("code_used", message, campaign_id, fact.code))
        else:
            accepted[campaign_id] = fact.code
        seen.add(key)
    return rejections, accepted


def precheck(campaign: Campaign, context: Context, currency: str) -> Verdict | None:
    """Checks 1-5, which do not depend on the cart's lines: the first failure, or None."""
    if not campaign.active:
        return fail("inactive", quiet=True)
    failure = schedule_failure(campaign, context.at)
    if failure is not None:
        return fail(*failure, quiet=True)
    if currency.casefold() != campaign.currency.casefold():
        message = f"The campaign is in {campaign.currency.upper()}; the cart is in {currency.upper()}."
        return fail("currency", message, quiet=True)
    # (the conditions before the calls spare most campaigns, which run anywhere for anyone, two calls)
    failure = (
        geo_refusal(campaign, context.location) if campaign.countries or campaign.states or campaign.cities else None
    )
    if failure is not None:
        return fail("geo", failure, quiet=True)
    if campaign.audience != AUDIENCE_ALL:
        refusal = audience_refusal(
            campaign,
            customer_id=context.customer_id,
            is_new_customer=context.is_new_customer,
            segment_ids=context.segment_ids,
        )
        if refusal is not None:
            return fail(*refusal, quiet=True)
    return limits_failure(campaign, context)


def limits_failure(campaign: Campaign, context: Context) -> Verdict | None:
    counter = context.counters.get(campaign.id, NO_COUNTER)
    if campaign.usage_limit is not None and counter.uses >= campaign.usage_limit:
        return fail("usage_limit", f"Used {counter.uses} of {campaign.usage_limit} times.")
    if campaign.customer_limit is not None or campaign.period_limit is not None:
        if context.customer_id is None:
            return fail("customer_required", "The campaign is limited per customer; no customer was given.")
        usage = context.usage.get(campaign.id, NO_USAGE)
        if campaign.customer_limit is not None and usage.lifetime >= campaign.customer_limit:
            return fail("customer_limit", f"Used {usage.lifetime} of {campaign.customer_limit} times.")
        if campaign.period_limit is not None:
            if campaign.period == PERIOD_LIFETIME:
                used, when = usage.lifetime, ""
            else:
                used = uses_this_period(campaign, context.at, usage.recent)
                when = {"DAY": " today", "WEEK": " this week", "MONTH": " this month"}.get(campaign.period, "")
            if used >= campaign.period_limit:
                return fail("customer_limit", f"Used {used} of {campaign.period_limit} times{when}.")
    if campaign.budget is not None and counter.discount_spent >= campaign.budget:
        message = f"The campaign's budget of {money_text(campaign.budget, campaign.currency)} is spent."
        return fail("budget_exhausted", message)
    return None
