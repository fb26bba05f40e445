"""The cart engine: which campaigns apply to a cart, and what each takes off.

This docstring is the engine's documented rule; the tests in ``campaigns/tests/test_engine.py``
hold it to every sentence.

Money
    Decimal with two places, ROUND_HALF_UP. A line's amount is ``unit_price x quantity`` in
    cents (a negative one counts as zero); the subtotal is their sum. Splits (a fixed amount
    over lines, a cap over lines) use the largest-remainder method (``money.allocate``) so
    the parts add up to the cent and no line gets more than is left of it. Inside, the engine
    counts whole cents as integers (``money.to_cents`` / ``allocate_cents``), which is exact
    and gives the same figures; every amount in the Result is a Decimal with two places.

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
       the campaign's earlier rules (each rule type is a strategy class in the ``rules``
       package, registered in ``rules.catalogue.RULE_TYPES``; ``rules.judge`` runs these steps):
       - lines: WHOLE_CART and CUSTOM_CART_TOTAL match every line, CATEGORY / BRAND / PRODUCT
         their targets (PRODUCT: its products and the products of its product segments),
         BULK_PURCHASE and BUY_X_GET_Y any of their targets (every line when they have none);
         a rule matches a line when any of its targets does (``rules.targets``); lines without
         units are not in the cart. None -> ``no_matching_items``. The cart's lines are indexed
         by product, category (with ancestors), brand and product segment once per evaluation,
         so a rule aimed elsewhere costs the same whatever the cart's size.
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

    * Exclusive campaigns come first, weighed by ``exclusive_policy`` (the setting
      ``CAMPAIGNS_EXCLUSIVE_POLICY``):
      - ``priority`` (the default): the first exclusive campaign (in that order) that gives
        something applies alone, and every other candidate is rejected ``not_stackable``.
      - ``best``: the exclusive campaign giving the most (total discount, items and shipping;
        ties: the first in that order) is weighed against what the non-exclusive campaigns
        give together (stacked as below, on the undiscounted cart). The customer gets the
        larger: the exclusive one alone (ties go to it), every other candidate rejected
        ``not_stackable`` with a message saying what it gives; or the stack, the exclusive
        ones that gave something rejected ``not_stackable`` ("The other campaigns together
        give more (₹X against ₹Y).").
      Under both, when no exclusive campaign gives anything, the exclusive ones are rejected
      with their own reasons and the others proceed as if there were no exclusive campaign.
      When an exclusive campaign was eligible (passed checks 1-5), ``Result.exclusive`` says
      how it was decided (``ExclusiveDecision``: the policy, the exclusive campaign applied or
      beaten, None when none gave anything, the outcome "exclusive" or "stack", a message);
      otherwise it is None.
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
from decimal import Decimal

from campaigns.engine.checks import NO_COUNTER, Verdict, fail, known_campaigns, precheck, resolve_codes
from campaigns.engine.money import CENT, ZERO, cents, from_cents, money_text, to_cents
from campaigns.engine.rules import CartIndex, CartView, cap_amounts, describe, matched_once, opening_value, rule_outcome
from campaigns.engine.stacking import CartState, Stacking
from campaigns.engine.types import (
    AUTOMATIC,
    EXCLUSIVE_PRIORITY,
    Applied,
    Campaign,
    Cart,
    Context,
    ExclusiveDecision,
    Hint,
    LineDiscount,
    Offer,
    Rejected,
    Result,
)


def evaluate(
    *,
    cart: Cart,
    context: Context,
    campaigns: Sequence[Campaign],
    explain: bool = False,
    exclusive_policy: str = EXCLUSIVE_PRIORITY,
) -> Result:
    """Judge ``campaigns`` on ``cart`` at ``context.at``: see the module docstring.
    ``explain`` reports every automatic campaign's reason too (the console's test page);
    ``exclusive_policy`` is how an exclusive campaign is weighed ("priority" or "best")."""
    lines = cart.lines
    fresh = CartState([max(to_cents(line.total), 0) for line in lines], max(to_cents(cart.shipping), 0))
    subtotal = from_cents(sum(fresh.remaining))

    known = known_campaigns(campaigns)
    code_rejections, code_of = resolve_codes(context, known)
    candidates = sorted(
        (c for c in known.values() if c.id in code_of or c.redemption_type == AUTOMATIC),
        key=lambda c: (-c.priority, c.id),
    )
    index = CartIndex(lines)  # the cart's lines by target, once per evaluation
    matches: dict[int, list[int]] = {}  # every rule's matched lines, once per evaluation

    view = CartView(lines, fresh.remaining, {}, fresh.shipping_left, subtotal, cart.currency, index, matches)

    def judge(campaign: Campaign, state: CartState) -> Verdict:
        # one view, reset for each judgement (they never overlap): what is left, nothing taken
        view.base, view.taken, view.shipping_left = state.remaining, {}, state.shipping_left
        return _judge(campaign, view, context)

    def alone(campaign: Campaign) -> Verdict:
        if campaign.id in code_of:
            return judge(campaign, fresh)
        # automatic: the cheap cart-wide checks (a full judgement costs a busy cart dearly)
        return _cart_wide_failure(campaign, subtotal, index, matches) or Verdict()

    stacking = Stacking(judge, alone, policy=exclusive_policy, currency=cart.currency)
    pool: list[Campaign] = []
    for campaign in candidates:
        failure = precheck(campaign, context, cart.currency)
        if failure is None:
            pool.append(campaign)
        else:
            stacking.verdicts[campaign.id] = failure
    decision = stacking.run(pool, fresh)

    return _report(
        cart,
        subtotal,
        from_cents(fresh.shipping_left),
        stacking,
        decision,
        candidates,
        code_rejections,
        code_of,
        explain,
    )


def _report(
    cart: Cart,
    subtotal: Decimal,
    shipping: Decimal,
    stacking: Stacking,
    decision: ExclusiveDecision | None,
    candidates: list[Campaign],
    code_rejections: list[Rejected],
    code_of: dict[int, str],
    explain: bool,
) -> Result:
    """The Result: rejections and hints in the order considered, discounts as applied."""
    rejected = list(code_rejections)
    hints: list[Hint] = []
    applied_verdicts = {campaign.id: verdict for campaign, verdict in stacking.applied}
    for campaign in candidates:
        verdict = stacking.verdicts.get(campaign.id)
        if verdict is not None and (explain or not (verdict.quiet and campaign.id not in code_of)):
            rejected.append(Rejected(verdict.reason, verdict.message, campaign.id, code_of.get(campaign.id)))
        verdict = verdict or applied_verdicts.get(campaign.id)
        if verdict is not None and campaign.id not in stacking.blocked and verdict.reason != "budget_exhausted":
            hints.extend(verdict.hints)

    skus = [line.sku for line in cart.lines]
    discounts = tuple(
        [_applied(campaign, verdict, code_of.get(campaign.id, ""), skus) for campaign, verdict in stacking.applied]
    )
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
        exclusive=decision,
    )


def _applied(campaign: Campaign, verdict: Verdict, code: str, skus: list[str]) -> Applied:
    """An applied campaign's record: its lines with an amount, in cart order."""
    items = verdict.items
    return Applied(
        campaign_id=campaign.id,
        name=campaign.name,
        code=code,
        amount=CENT * sum(items.values()),
        shipping_amount=CENT * verdict.shipping,
        lines=tuple([LineDiscount(skus[line], CENT * amount) for line, amount in sorted(items.items()) if amount > 0]),
    )


def offers(*, context: Context, campaigns: Sequence[Campaign]) -> tuple[Offer, ...]:
    """The campaigns the customer may use at ``context.at`` whatever the cart: see "Offers"."""
    known = known_campaigns(campaigns)
    _, code_of = resolve_codes(context, known)
    return tuple(
        Offer(campaign=campaign, code=code_of.get(campaign.id, ""))
        for campaign in sorted(known.values(), key=lambda c: (-c.priority, c.id))
        if (campaign.id in code_of or campaign.redemption_type == AUTOMATIC)
        and precheck(campaign, context, campaign.currency) is None
    )


def _cart_wide_failure(
    campaign: Campaign, subtotal: Decimal, index: CartIndex, matches: dict[int, list[int]]
) -> Verdict | None:
    """Why an automatic campaign could give nothing on this cart, judged without computing
    amounts: below its minimum cart value, or no rule matching any item (silent)."""
    if campaign.min_cart_value is not None and subtotal < campaign.min_cart_value:
        return fail("min_cart")
    if any(matched_once(rule, index, matches) for rule in campaign.rules):
        return None
    return fail("no_matching_items", quiet=True)


def _min_cart_failure(campaign: Campaign, cart: CartView) -> Verdict:
    currency = cart.currency
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
    return fail("min_cart", message, hints=[hint])


def _judge(campaign: Campaign, cart: CartView, context: Context) -> Verdict:
    """Checks 6-8 on ``cart`` (what is left of it): the campaign's discount, or why none.
    The campaign's rules take in turn, each recording what it took in ``cart.taken``."""
    if campaign.min_cart_value is not None and cart.subtotal < campaign.min_cart_value:
        return _min_cart_failure(campaign, cart)
    index, matches = cart.index, cart.matches
    for rule in campaign.rules:
        if matches.get(id(rule)) or matched_once(rule, index, matches):
            break
    else:
        return fail("no_matching_items", quiet=True)  # no rule (or none about these items)
    items, shipping = cart.taken, 0
    first_failure, hints, held = None, [], False
    for rule in campaign.rules:
        outcome = rule_outcome(rule, cart, campaign_id=campaign.id)
        hints.extend(outcome.hints)
        if outcome.reason is not None:
            first_failure = first_failure or outcome
            continue
        held = True
        if items:
            for line, amount in outcome.items.items():
                items[line] = items.get(line, 0) + amount
        else:  # the first rule to give: its amounts as they are (a dict of its own)
            items = cart.taken = outcome.items
        shipping += outcome.shipping
        cart.shipping_left -= outcome.shipping
    if not held:
        reason = first_failure.reason
        return fail(reason, first_failure.message, quiet=reason == "no_matching_items", hints=hints)

    if campaign.max_discount is not None:
        items = cap_amounts(dict(sorted(items.items())), campaign.max_discount)
    benefit = sum(items.values()) + shipping  # cents
    if benefit <= 0:
        return fail("nothing_to_discount", hints=hints)

    if campaign.budget is not None:
        spent = context.counters.get(campaign.id, NO_COUNTER).discount_spent
        if spent + from_cents(benefit) > campaign.budget:
            left = max(cents(campaign.budget - spent), ZERO)
            message = (
                f"The discount of {money_text(from_cents(benefit), cart.currency)} would exceed the campaign's remaining budget "
                f"of {money_text(left, cart.currency)}."
            )
            return fail("budget_exhausted", message)
    return Verdict(items=items, shipping=shipping, hints=hints)
