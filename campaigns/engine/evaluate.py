"""The cart engine: which campaigns apply to a cart, and what each takes off.

This docstring is the engine's documented rule; the tests in ``campaigns/tests/test_engine.py``
hold it to every sentence.

Money
    Decimal with two places, ROUND_HALF_UP. A line's amount is ``unit_price x quantity`` in
    cents (a negative one counts as zero); the subtotal is their sum. Splits (a fixed amount
    over lines, a cap over lines) use the largest-remainder method (``money.allocate``) so
    the parts add up to the cent and no line gets more than is left of it.

Candidates
    * AUTOMATIC campaigns are candidates without a code; COUPON_CODE campaigns only through
      a code (without one they are silently not candidates). LOYALTY_PROGRAM campaigns are
      ignored entirely (a code naming one is unknown).
    * Codes (``context.codes``) are judged in the order typed: a code seen before (ignoring
      case) -> ``code_duplicate``; no campaign, or one not among ``campaigns`` ->
      ``code_unknown``; a code assigned to a customer (``assigned``) other than
      ``context.customer_id`` (a guest, another customer, or nobody since its holder is gone)
      -> ``code_not_yours``, without its campaign (it says no more about the code than
      ``code_unknown`` would; checked before its uses, which are the holder's business); a
      campaign already named by an accepted code -> ``code_duplicate``;
      a single-use code with ``uses >= max_uses`` -> ``code_used``. An accepted code makes its
      campaign a candidate with that code; an AUTOMATIC campaign named by a code applies as
      automatic, with the code recorded (and, being coded, reports every reason).

Eligibility (in this order; the first failing check is the campaign's one reason)
    1. ``inactive``; ``not_started`` / ``expired`` (live when ``starts_at <= at < ends_at``);
       ``outside_days`` / ``outside_hours``. Days and hours are judged on the campaign's own
       clock (``campaign.timezone``). A daily window with start < end is [start, end); with
       start > end it crosses midnight, [start, 24h) U [0, end), and the part after midnight
       belongs to the day the window opened (a Friday-only 22:00-02:00 window is open at 01:00
       on Saturday). No window = all day.
    2. ``currency``: the cart's currency must be the campaign's (ignoring case).
    3. ``geo``: each non-empty list among countries / states / cities must contain the
       customer's value (ignoring case).
    4. Audience: NEW_USERS, EXISTING_USERS, GROUPS and SEGMENTS need a customer
       (``customer_required``); NEW_USERS needs a new customer and EXISTING_USERS an
       existing one (``audience``); GROUPS and SEGMENTS need one of the campaign's segments
       (``segment``).
    5. Limits: ``usage_limit`` (all customers' uses); per-customer limits need a customer
       (``customer_required``), then ``customer_limit`` for lifetime uses >= customer_limit,
       or uses in the current local day / ISO week / month (or lifetime) >= period_limit;
       ``budget_exhausted`` when the budget is already spent.
    6. ``min_cart``: subtotal (before any discount) below ``min_cart_value``, with a hint.
    7. Rules, each on what is left of every line after the campaigns applied before it and
       the campaign's earlier rules (see ``rules.py``):
       - lines: WHOLE_CART and CUSTOM_CART_TOTAL match every line, CATEGORY / BRAND / PRODUCT
         their targets, BULK_PURCHASE and BUY_X_GET_Y any of their targets (every line when
         they have none); lines without units are not in the cart. None -> ``no_matching_items``.
       - ``min_quantity`` on the matched units (with a hint).
       - tiers: BULK_PURCHASE on matched units, CUSTOM_CART_TOTAL on the subtotal; the highest
         tier reached gives the value; none reached -> ``min_quantity`` / ``min_cart`` with a
         hint to the first tier; a reached tier with a better one above adds a hint to it.
         Tiers of other rule types are ignored.
       - PERCENTAGE: value % of each picked line's remaining amount. FIXED_AMOUNT: value off
         the picked lines together, split by their remaining amounts, at most their total.
       - ``max_quantity``: only the dearest that many units are picked (unit price desc, then
         sku, then line order); a unit's remaining amount is the line's remaining / quantity.
       - BUY_X_GET_Y: groups = min(max_applications, matched units // (X+Y)); the cheapest
         groups x Y units (same ordering, from the cheap end) get value % off (100 when value is
         None; a FIXED_AMOUNT value is taken off them together). Fewer than X+Y units ->
         ``min_quantity`` with a hint "Buy N more to get Y free." where N = X+Y - units.
       - ``rule.max_discount`` caps the rule's item amount; FREE_SHIPPING rules give the
         shipping left (up to ``rule.max_discount``) when their condition holds.
       - ``campaign.max_discount`` caps the campaign's item amount (not its shipping).
       A campaign with no rule, or whose every rule failed, takes its first rule's reason
       (``no_matching_items`` for none); rules that hold but give nothing in all ->
       ``nothing_to_discount``.
    8. ``budget_exhausted`` when discount spent + this campaign's discount (items and
       shipping) would exceed the budget: a campaign applies in full or not at all.

Offers (``offers``: what a customer may use now, before there is a cart)
    The candidates and codes as above: AUTOMATIC campaigns, and COUPON_CODE campaigns through
    an accepted code of ``context.codes`` (the ORM side gives each campaign's shared code and
    the customer's own assigned codes, so a used code or another's is no offer). A candidate is
    an offer when eligibility checks 1, 3, 4 and 5 hold, the very checks ``evaluate`` runs
    (the currency is the cart's, so it is not judged; the minimum cart value and the rules
    depend on the cart: an offer shows them, it does not judge them). Offers come in the
    order stacking considers campaigns, each with the code that names it ("" for automatic).

Stacking
    Candidates are considered by priority (highest first), then id (lowest first).

    * Exclusive campaigns come first: the first exclusive campaign (in that order) that gives
      something applies alone, and every other candidate is rejected ``not_stackable``. When
      none gives anything, the exclusive ones are rejected with their own reasons and the
      others proceed as if there were no exclusive campaign.
    * Two lanes: items (DISCOUNT_COUPON campaigns) and shipping (FREE_SHIPPING campaigns); the
      campaign's kind decides its lane, whatever its rules discount. Within a lane, stackable
      campaigns combine, each on what the earlier ones left. A non-stackable campaign applies
      only when nothing has applied in its lane before it, and then nothing else applies in
      that lane after it. Blocked campaigns are rejected ``not_stackable``.
    * A campaign blocked by stacking that would not have given anything on its own is reported
      with its own reason instead, so a rejection never blames stacking for what the campaign
      could not do anyway. A coded campaign is judged in full on the cart before any discount;
      an automatic one on its cart-wide checks only (the minimum cart value, and whether any
      rule matches an item), which keeps a busy cart cheap to evaluate.

Reporting
    * Coded campaigns report every reason, with ``code`` (and ``campaign_id``). AUTOMATIC
      campaigns are quiet about checks 1-4 and ``no_matching_items`` (they were not meant for
      this cart, so saying so is noise); they report limits, ``min_cart``, ``min_quantity``,
      ``nothing_to_discount``, budget and stacking, with ``campaign_id``.
    * Hints ("Add ₹250.00 more to the cart for 10% off.", "Buy 1 more to get 1 free.") say
      what is missing for a min cart value, a rule's min quantity, a first tier or a
      BUY_X_GET_Y group (applied campaign or not: a second rule may still be locked), and for
      the next better tier of a tiered rule that applied (BULK_PURCHASE and CUSTOM_CART_TOTAL).
      A campaign that stacking or its budget would stop anyway gives no hint: it would be a
      false promise.
    * Code rejections come first in the order typed, then campaign rejections and hints in
      the order campaigns are considered; applied discounts in the order they applied, each
      with its lines (amount > 0, cart line order; a sku on two lines gives two entries).
    * Totals: shipping_discount = sum of shipping amounts; total_discount = items + shipping;
      total = subtotal + shipping - total_discount, never negative.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from campaigns.engine.eligibility import audience_refusal, geo_refusal
from campaigns.engine.money import ZERO, cents, money_text
from campaigns.engine.rules import CartView, Present, cap_amounts, describe, matched_once, opening_value, rule_outcome
from campaigns.engine.schedule import schedule_failure, uses_this_period
from campaigns.engine.types import (
    AUTOMATIC,
    FREE_SHIPPING,
    LOYALTY_PROGRAM,
    PERIOD_LIFETIME,
    REASONS,
    Applied,
    Campaign,
    Cart,
    Context,
    Counter,
    Hint,
    LineDiscount,
    Offer,
    Rejected,
    Result,
    Usage,
)

ITEMS_LANE, SHIPPING_LANE = "items", "shipping"
NO_COUNTER, NO_USAGE = Counter(), Usage()  # frozen: shared by every campaign never used


@dataclass
class _Verdict:
    """One campaign judged on one state of the cart."""

    reason: str | None = None
    message: str = ""
    quiet: bool = False  # an AUTOMATIC campaign keeps this reason to itself
    items: list[Decimal] = field(default_factory=list)  # per cart line
    shipping: Decimal = ZERO
    hints: list[Hint] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def items_total(self) -> Decimal:
        return sum(self.items, ZERO)


def _fail(reason: str, message: str = "", *, quiet: bool = False, hints: list[Hint] | None = None) -> _Verdict:
    return _Verdict(reason, message or REASONS[reason], quiet, hints=hints or [])


@dataclass
class _Cart:
    """The cart being discounted: what is left of each line and of the shipping."""

    remaining: list[Decimal]
    shipping_left: Decimal


def evaluate(*, cart: Cart, context: Context, campaigns: Sequence[Campaign], explain: bool = False) -> Result:
    """Judge ``campaigns`` on ``cart`` at ``context.at``: see the module docstring.
    ``explain`` reports every automatic campaign's reason too (the console's test page)."""
    lines = cart.lines
    fresh = _Cart([max(cents(line.total), ZERO) for line in lines], max(cents(cart.shipping), ZERO))
    subtotal = sum(fresh.remaining, ZERO)

    known: dict[int, Campaign] = {}
    for campaign in campaigns:
        if campaign.kind != LOYALTY_PROGRAM and campaign.id not in known:
            known[campaign.id] = campaign
    code_rejections, code_of = _resolve_codes(context, known)
    candidates = sorted(
        (c for c in known.values() if c.id in code_of or c.redemption_type == AUTOMATIC),
        key=lambda c: (-c.priority, c.id),
    )

    matches: dict[int, list[int]] = {}  # shared by every judgement of this evaluation
    present = Present.of(lines)

    def judge(campaign: Campaign, state: _Cart) -> _Verdict:
        view = CartView(lines, state.remaining, state.shipping_left, subtotal, cart.currency, matches, present)
        return _judge(campaign, view, context)

    verdicts: dict[int, _Verdict] = {}  # the final word on every rejected campaign
    blocked: set[int] = set()  # rejected because of stacking (or would be): no hints
    pool: list[Campaign] = []
    for campaign in candidates:
        failure = _precheck(campaign, context, cart.currency)
        if failure is None:
            pool.append(campaign)
        else:
            verdicts[campaign.id] = failure

    applied: list[tuple[Campaign, _Verdict]] = []
    state = _Cart(list(fresh.remaining), fresh.shipping_left)

    def apply(campaign: Campaign, verdict: _Verdict) -> None:
        applied.append((campaign, verdict))
        state.remaining = [left - taken for left, taken in zip(state.remaining, verdict.items, strict=True)]
        state.shipping_left -= verdict.shipping

    def block(campaign: Campaign, message: str) -> None:
        # Stacking is to blame only if the campaign would have given something on its own.
        if campaign.id in code_of:
            alone = judge(campaign, fresh)
        else:  # automatic: the cheap cart-wide checks (a full judgement costs a busy cart dearly)
            alone = _cart_wide_failure(campaign, subtotal, lines, present, matches) or _Verdict()
        verdicts[campaign.id] = _fail("not_stackable", message) if alone.ok else alone
        blocked.add(campaign.id)

    winner = None
    for campaign in (c for c in pool if c.exclusive):
        if winner is not None:
            block(campaign, f"{winner.name} applies alone.")
            continue
        verdict = judge(campaign, fresh)
        if verdict.ok:
            winner = campaign
            apply(campaign, verdict)
        else:
            verdicts[campaign.id] = verdict

    lane_used: dict[str, Campaign] = {}  # the first campaign applied in each lane
    lane_locked: dict[str, Campaign] = {}  # a non-stackable campaign that applied
    for campaign in (c for c in pool if not c.exclusive):
        lane = SHIPPING_LANE if campaign.kind == FREE_SHIPPING else ITEMS_LANE
        if winner is not None:
            block(campaign, f"{winner.name} applies alone.")
        elif lane in lane_locked:
            block(campaign, f"{lane_locked[lane].name} applied and does not combine with other campaigns.")
        elif not campaign.stackable and lane in lane_used:
            block(campaign, f"This campaign does not combine with {lane_used[lane].name}, which applied first.")
        else:
            verdict = judge(campaign, state)
            if not verdict.ok:
                verdicts[campaign.id] = verdict
                continue
            apply(campaign, verdict)
            lane_used.setdefault(lane, campaign)
            if not campaign.stackable:
                lane_locked[lane] = campaign

    rejected = list(code_rejections)
    hints: list[Hint] = []
    applied_verdicts = {campaign.id: verdict for campaign, verdict in applied}
    for campaign in candidates:
        verdict = verdicts.get(campaign.id)
        if verdict is not None and (explain or not (verdict.quiet and campaign.id not in code_of)):
            rejected.append(Rejected(verdict.reason, verdict.message, campaign.id, code_of.get(campaign.id)))
        verdict = verdict or applied_verdicts.get(campaign.id)
        if verdict is not None and campaign.id not in blocked and verdict.reason != "budget_exhausted":
            hints.extend(verdict.hints)

    discounts = tuple(
        Applied(
            campaign_id=campaign.id,
            name=campaign.name,
            code=code_of.get(campaign.id, ""),
            amount=verdict.items_total,
            shipping_amount=verdict.shipping,
            lines=tuple(
                LineDiscount(line.sku, amount) for line, amount in zip(lines, verdict.items, strict=True) if amount > 0
            ),
        )
        for campaign, verdict in applied
    )
    shipping = fresh.shipping_left
    items_discount = sum((d.amount for d in discounts), ZERO)
    shipping_discount = sum((d.shipping_amount for d in discounts), ZERO)
    total_discount = items_discount + shipping_discount
    return Result(
        subtotal=subtotal,
        shipping=shipping,
        discounts=discounts,
        shipping_discount=shipping_discount,
        total_discount=total_discount,
        total=max(subtotal + shipping - total_discount, ZERO),
        rejected=tuple(rejected),
        hints=tuple(hints),
    )


def _resolve_codes(context: Context, known: dict[int, Campaign]) -> tuple[list[Rejected], dict[int, str]]:
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


def offers(*, context: Context, campaigns: Sequence[Campaign]) -> tuple[Offer, ...]:
    """The campaigns the customer may use at ``context.at`` whatever the cart: see "Offers"."""
    known: dict[int, Campaign] = {}
    for campaign in campaigns:
        if campaign.kind != LOYALTY_PROGRAM and campaign.id not in known:
            known[campaign.id] = campaign
    _, code_of = _resolve_codes(context, known)
    return tuple(
        Offer(campaign=campaign, code=code_of.get(campaign.id, ""))
        for campaign in sorted(known.values(), key=lambda c: (-c.priority, c.id))
        if (campaign.id in code_of or campaign.redemption_type == AUTOMATIC)
        and _precheck(campaign, context, campaign.currency) is None
    )


def _precheck(campaign: Campaign, context: Context, currency: str) -> _Verdict | None:
    """Checks 1-5, which do not depend on the cart's lines: the first failure, or None."""
    if not campaign.active:
        return _fail("inactive", quiet=True)
    failure = schedule_failure(campaign, context.at)
    if failure is not None:
        return _fail(*failure, quiet=True)
    if currency.casefold() != campaign.currency.casefold():
        message = f"The campaign is in {campaign.currency.upper()}; the cart is in {currency.upper()}."
        return _fail("currency", message, quiet=True)
    failure = geo_refusal(campaign, context.location)
    if failure is not None:
        return _fail("geo", failure, quiet=True)
    refusal = audience_refusal(
        campaign,
        customer_id=context.customer_id,
        is_new_customer=context.is_new_customer,
        segment_ids=context.segment_ids,
    )
    if refusal is not None:
        return _fail(*refusal, quiet=True)
    return _limits_failure(campaign, context)


def _limits_failure(campaign: Campaign, context: Context) -> _Verdict | None:
    counter = context.counters.get(campaign.id, NO_COUNTER)
    if campaign.usage_limit is not None and counter.uses >= campaign.usage_limit:
        return _fail("usage_limit", f"Used {counter.uses} of {campaign.usage_limit} times.")
    if campaign.customer_limit is not None or campaign.period_limit is not None:
        if context.customer_id is None:
            return _fail("customer_required", "The campaign is limited per customer; no customer was given.")
        usage = context.usage.get(campaign.id, NO_USAGE)
        if campaign.customer_limit is not None and usage.lifetime >= campaign.customer_limit:
            return _fail("customer_limit", f"Used {usage.lifetime} of {campaign.customer_limit} times.")
        if campaign.period_limit is not None:
            if campaign.period == PERIOD_LIFETIME:
                used, when = usage.lifetime, ""
            else:
                used = uses_this_period(campaign, context.at, usage.recent)
                when = {"DAY": " today", "WEEK": " this week", "MONTH": " this month"}.get(campaign.period, "")
            if used >= campaign.period_limit:
                return _fail("customer_limit", f"Used {used} of {campaign.period_limit} times{when}.")
    if campaign.budget is not None and counter.discount_spent >= campaign.budget:
        message = f"The campaign's budget of {money_text(campaign.budget, campaign.currency)} is spent."
        return _fail("budget_exhausted", message)
    return None


def _cart_wide_failure(
    campaign: Campaign, subtotal: Decimal, lines, present: Present, matches: dict[int, list[int]]
) -> _Verdict | None:
    """Why an automatic campaign could give nothing on this cart, judged without computing
    amounts: below its minimum cart value, or no rule matching any item (silent)."""
    if campaign.min_cart_value is not None and subtotal < campaign.min_cart_value:
        return _fail("min_cart")
    if any(matched_once(rule, lines, present, matches) for rule in campaign.rules):
        return None
    return _fail("no_matching_items", quiet=True)


def _judge(campaign: Campaign, cart: CartView, context: Context) -> _Verdict:
    """Checks 6-8 on ``cart`` (what is left of it): the campaign's discount, or why none."""
    currency = cart.currency
    if campaign.min_cart_value is not None and cart.subtotal < campaign.min_cart_value:
        missing = max(cents(campaign.min_cart_value - cart.subtotal), Decimal("0.01"))
        offer = campaign.rules[0] if campaign.rules else None
        gives = describe(offer, opening_value(offer), currency) if offer else "this offer"
        hint = Hint(
            campaign.id, f"Add {money_text(missing, currency)} more to the cart for {gives}.", missing_amount=missing
        )
        message = (
            f"The cart is {money_text(cart.subtotal, currency)}; "
            f"the campaign needs {money_text(campaign.min_cart_value, currency)}."
        )
        return _fail("min_cart", message, hints=[hint])

    if not any(matched_once(rule, cart.lines, cart.present, cart.matches) for rule in campaign.rules):
        return _fail("no_matching_items", quiet=True)  # no rule (or none about these items)
    remaining, shipping_left = list(cart.remaining), cart.shipping_left
    items, shipping = [ZERO] * len(remaining), ZERO
    first_failure, hints, held = None, [], False
    for rule in campaign.rules:
        view = CartView(cart.lines, remaining, shipping_left, cart.subtotal, currency, cart.matches, cart.present)
        outcome = rule_outcome(rule, view, campaign_id=campaign.id)
        hints.extend(outcome.hints)
        if outcome.reason is not None:
            first_failure = first_failure or outcome
            continue
        held = True
        for index, amount in outcome.items.items():
            items[index] += amount
            remaining[index] -= amount
        shipping += outcome.shipping
        shipping_left -= outcome.shipping
    if not held:
        reason = first_failure.reason
        return _fail(reason, first_failure.message, quiet=reason == "no_matching_items", hints=hints)

    if campaign.max_discount is not None:
        capped = cap_amounts(dict(enumerate(items)), campaign.max_discount)
        items = [capped[index] for index in range(len(items))]
    benefit = sum(items, ZERO) + shipping
    if benefit <= 0:
        return _fail("nothing_to_discount", hints=hints)

    if campaign.budget is not None:
        spent = context.counters.get(campaign.id, NO_COUNTER).discount_spent
        if spent + benefit > campaign.budget:
            left = max(cents(campaign.budget - spent), ZERO)
            message = (
                f"The discount of {money_text(benefit, currency)} would exceed the campaign's remaining budget "
                f"of {money_text(left, currency)}."
            )
            return _fail("budget_exhausted", message)
    return _Verdict(items=items, shipping=shipping, hints=hints)
