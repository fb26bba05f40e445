"""Money for the cart engine: Decimal, two places, ROUND_HALF_UP, and exact splits.

Every amount the engine hands back has exponent -2, so a result can be stored, summed and
compared with the order's figures without a stray third decimal; splitting an amount over
lines goes through ``allocate`` so the parts always add up to the whole, to the cent.
"""

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Currencies the messages print with their sign; any other prints as "USD 12.00"-style code.
SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def cents(value: Decimal | int | str) -> Decimal:
    """``value`` rounded to the cent, half up (the rounding customers expect on a bill)."""
    if value.__class__ is not Decimal:  # the engine's hot path passes Decimals: no copy for them
        value = Decimal(value)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_up(value: Decimal | int | str) -> Decimal:
    """``value`` rounded up to the cent: a "spend X more" amount must be enough to get there."""
    return Decimal(value).quantize(CENT, rounding=ROUND_CEILING)


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``amount`` over ``weights`` into cents that add up to exactly ``amount``.

    Largest-remainder method: each part first gets its exact share rounded down to the cent,
    then the cents still missing go one by one to the largest fractional parts, ties to the
    earlier index (so the split is deterministic). A part therefore never exceeds its weight
    when ``amount <= sum(weights)`` (a share below the weight rounds up to at most the weight,
    weights being whole cents), which is what lets caps shrink line discounts without pushing
    a line below zero. Negative weights count as zero; when every weight is zero the amount
    is split evenly, so the parts still add up.
    """
    if not weights:
        return []
    # Exact integer arithmetic (a Fraction per weight is far slower): every weight scaled by
    # the same power of ten, so share i is whole * w_i / total exactly, as quotient + remainder.
    ints = _in_cents(weights)
    if ints is None:  # finer than cents (a unit's share of a line): scale by the finest exponent
        decimals = [max(Decimal(weight), ZERO) for weight in weights]
        exponent = min(0, min(d.as_tuple().exponent for d in decimals))
        ints = [int(d.scaleb(-exponent)) for d in decimals]
    return [CENT * part for part in allocate_cents(int(cents(amount) * 100), ints)]  # exponent -2 on every part


def allocate_cents(whole: int, weights: Sequence[int]) -> list[int]:
    """``allocate`` in whole cents (or any integer unit): ``whole`` split over integer
    ``weights`` into integers adding up to exactly ``whole``, by the same rule."""
    if not weights:
        return []
    sign = -1 if whole < 0 else 1
    whole = abs(whole)
    ints = weights if min(weights) >= 0 else [weight if weight > 0 else 0 for weight in weights]
    total = sum(ints)
    if total == 0:
        ints, total = [1] * len(ints), len(ints)
    parts = [whole * weight // total for weight in ints]
    missing = whole - sum(parts)
    if missing:
        # the largest remainders first; sorted() is stable, so ties go to the earlier index
        negated = [-(whole * weight % total) for weight in ints]
        for index in sorted(range(len(negated)), key=negated.__getitem__)[:missing]:
            parts[index] += 1
    return parts if sign == 1 else [-part for part in parts]


def to_cents(value: Decimal) -> int:
    """``value`` rounded half up to the cent, as a whole number of cents (the engine's unit
    while it works; every amount it hands back is a Decimal again, ``from_cents``)."""
    return int(cents(value).scaleb(2))


_FIGURES: dict[Decimal, int] = {}  # figure -> its cents (a catalogue has few distinct figures)


def figure_cents(value: Decimal) -> int:
    """``to_cents`` of a rule's or campaign's figure (a value, a cap), remembered: the same
    few figures come back on every evaluation. Cart amounts go through ``to_cents``."""
    whole = _FIGURES.get(value)
    if whole is None:
        if len(_FIGURES) >= 4096:  # a bound, should figures keep changing
            _FIGURES.clear()
        whole = _FIGURES[value] = to_cents(value)
    return whole


def from_cents(whole: int) -> Decimal:
    """Whole cents as a Decimal with two places (``CENT * n`` keeps the exponent at -2)."""
    return CENT * whole


def _in_cents(weights: Sequence[Decimal]) -> list[int] | None:
    """The weights as whole cents (negative ones as 0), or None when one has a finer part."""
    ints = []
    for weight in weights:
        hundredfold = Decimal(weight) * 100
        whole = int(hundredfold)
        if whole != hundredfold:
            return None
        ints.append(whole if whole > 0 else 0)
    return ints


def money_text(amount: Decimal, currency: str) -> str:
    """``₹250.00``: the amount as a customer reads it (no grouping, which differs by locale)."""
    symbol = SYMBOLS.get(currency.upper())
    text = f"{cents(amount):f}"
    return f"{symbol}{text}" if symbol else f"{currency.upper()} {text}"


def number_text(value: Decimal) -> str:
    """``10`` for 10.00, ``12.5`` for 12.50: percentages and quantities without trailing zeros."""
    normal = Decimal(value).normalize()
    return f"{normal:f}"
