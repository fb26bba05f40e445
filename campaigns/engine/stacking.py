"""Stacking: which of the eligible campaigns apply together, and how an exclusive campaign is
weighed against the others (the "Stacking" part of ``evaluate``'s docstring)."""

from collections.abc import Callable
from dataclasses import dataclass

from campaigns.engine.checks import Verdict, fail
from campaigns.engine.money import from_cents, money_text
from campaigns.engine.types import (
    EXCLUSIVE_BEST,
    EXCLUSIVE_POLICIES,
    EXCLUSIVE_PRIORITY,
    FREE_SHIPPING,
    Campaign,
    ExclusiveDecision,
)

ITEMS_LANE, SHIPPING_LANE = "items", "shipping"
NONE_GIVES = "No exclusive campaign gives anything on this cart; the other campaigns combine."


@dataclass
class CartState:
    """The cart being discounted: what is left of each line and of the shipping."""

    remaining: list[int]  # cents
    shipping_left: int  # cents

    def copy(self) -> "CartState":
        return CartState(list(self.remaining), self.shipping_left)


Applied = list[tuple[Campaign, Verdict]]


class Stacking:
    """Runs the stacking over ``pool`` (eligible campaigns in the order considered).

    ``judge(campaign, state)`` judges a campaign on a state of the cart; ``alone(campaign)``
    says whether a campaign blocked by stacking would have given anything on its own. After
    ``run``: ``applied`` in order, ``verdicts`` for every rejected campaign, ``blocked`` the
    ones stacking rejected (they give no hints)."""

    def __init__(
        self,
        judge: Callable[[Campaign, CartState], Verdict],
        alone: Callable[[Campaign], Verdict],
        *,
        policy: str,
        currency: str,
    ) -> None:
        if policy not in EXCLUSIVE_POLICIES:
            raise ValueError(f"Unknown exclusive policy {policy!r}; use one of {', '.join(EXCLUSIVE_POLICIES)}.")
        self.judge, self.alone, self.policy, self.currency = judge, alone, policy, currency
        self.applied: Applied = []
        self.verdicts: dict[int, Verdict] = {}
        self.blocked: set[int] = set()

    def run(self, pool: list[Campaign], fresh: CartState) -> ExclusiveDecision | None:
        exclusives = [c for c in pool if c.exclusive]
        others = [c for c in pool if not c.exclusive]
        if not exclusives:
            self._merge(*self._stack(others, fresh.copy()))
            return None
        if self.policy == EXCLUSIVE_PRIORITY:
            return self._by_priority(exclusives, others, fresh)
        return self._by_best(exclusives, others, fresh)

    def _block(self, campaign: Campaign, message: str) -> None:
        # Stacking is to blame only if the campaign would have given something on its own.
        alone = self.alone(campaign)
        self.verdicts[campaign.id] = fail("not_stackable", message) if alone.ok else alone
        self.blocked.add(campaign.id)

    def _refuse(self, campaign: Campaign, message: str) -> None:
        """A campaign known to give something on its own, rejected by stacking."""
        self.verdicts[campaign.id] = fail("not_stackable", message)
        self.blocked.add(campaign.id)

    def _merge(self, applied: Applied, verdicts: dict[int, Verdict], blocked: set[int]) -> None:
        self.applied.extend(applied)
        self.verdicts.update(verdicts)
        self.blocked |= blocked

    def _by_priority(self, exclusives: list[Campaign], others: list[Campaign], fresh: CartState) -> ExclusiveDecision:
        """The first exclusive campaign (by priority) that gives something applies alone."""
        winner = None
        for campaign in exclusives:
            if winner is not None:
                self._block(campaign, f"{winner.name} applies alone.")
                continue
            verdict = self.judge(campaign, fresh)
            if verdict.ok:
                winner = campaign
                self.applied.append((campaign, verdict))
            else:
                self.verdicts[campaign.id] = verdict
        if winner is None:
            self._merge(*self._stack(others, fresh.copy()))
            return ExclusiveDecision(EXCLUSIVE_PRIORITY, None, "stack", NONE_GIVES)
        for campaign in others:
            self._block(campaign, f"{winner.name} applies alone.")
        message = f"{winner.name} is exclusive and applies alone (exclusive campaigns win by priority)."
        return ExclusiveDecision(EXCLUSIVE_PRIORITY, winner.id, "exclusive", message)

    def _by_best(self, exclusives: list[Campaign], others: list[Campaign], fresh: CartState) -> ExclusiveDecision:
        """The exclusive campaign giving the most (ties: by priority) against the stack of the
        others: the customer gets the larger total discount (ties: the exclusive one)."""
        giving: Applied = []
        for campaign in exclusives:
            verdict = self.judge(campaign, fresh)
            if verdict.ok:
                giving.append((campaign, verdict))
            else:
                self.verdicts[campaign.id] = verdict
        stack = self._stack(others, fresh.copy())
        if not giving:
            self._merge(*stack)
            return ExclusiveDecision(EXCLUSIVE_BEST, None, "stack", NONE_GIVES)
        best, best_verdict = giving[0]
        for campaign, verdict in giving[1:]:
            if verdict.benefit > best_verdict.benefit:
                best, best_verdict = campaign, verdict
        alone, together = best_verdict.benefit, sum(v.benefit for _, v in stack[0])
        alone_text = money_text(from_cents(alone), self.currency)
        together_text = money_text(from_cents(together), self.currency)
        if together > alone:
            self._merge(*stack)
            for campaign, _ in giving:
                self._refuse(
                    campaign, f"The other campaigns together give more ({together_text} against {alone_text})."
                )
            message = f"The other campaigns together give {together_text}, more than {alone_text} from {best.name}."
            return ExclusiveDecision(EXCLUSIVE_BEST, best.id, "stack", message)
        self.applied.append((best, best_verdict))
        for campaign, _ in giving:
            if campaign is not best:
                self._refuse(campaign, f"{best.name} applies alone: it gives more ({alone_text}).")
        for campaign in others:
            self._block(campaign, f"{best.name} applies alone: it gives more ({alone_text} against {together_text}).")
        message = f"{best.name} gives {alone_text}, at least the {together_text} the other campaigns give together."
        return ExclusiveDecision(EXCLUSIVE_BEST, best.id, "exclusive", message)

    def _stack(self, campaigns: list[Campaign], state: CartState) -> tuple[Applied, dict[int, Verdict], set[int]]:
        """The non-exclusive campaigns in two lanes, each on what the earlier ones left."""
        applied: Applied = []
        verdicts: dict[int, Verdict] = {}
        blocked: set[int] = set()
        lane_used: dict[str, Campaign] = {}  # the first campaign applied in each lane
        lane_locked: dict[str, Campaign] = {}  # a non-stackable campaign that applied
        for campaign in campaigns:
            lane = SHIPPING_LANE if campaign.kind == FREE_SHIPPING else ITEMS_LANE
            if lane in lane_locked:
                message = f"{lane_locked[lane].name} applied and does not combine with other campaigns."
            elif not campaign.stackable and lane in lane_used:
                message = f"This campaign does not combine with {lane_used[lane].name}, which applied first."
            else:
                verdict = self.judge(campaign, state)
                if verdict.reason is not None:  # not verdict.ok, without a property call
                    verdicts[campaign.id] = verdict
                    continue
                applied.append((campaign, verdict))
                remaining = state.remaining
                for index, amount in verdict.items.items():
                    remaining[index] -= amount
                state.shipping_left -= verdict.shipping
                lane_used.setdefault(lane, campaign)
                if not campaign.stackable:
                    lane_locked[lane] = campaign
                continue
            alone = self.alone(campaign)
            verdicts[campaign.id] = fail("not_stackable", message) if alone.ok else alone
            blocked.add(campaign.id)
        return applied, verdicts, blocked
