"""Money for the cart engine: Decimal, two places, ROUND_HALF_UP, and exact splits.

Every amount the engine hands back has exponent -2, so a result can be stored, summed and
compared with the order's figures without a stray third decimal; splitting an amount over
lines goes through ``allocate`` so the parts always add up to the whole, to the cent.
"""

import math
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Currencies the messages print with their sign; any other prints as "USD 12.00"-style code.
SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def cents(value: Decimal | int | str) -> Decimal:
    """``value`` rounded to the cent, half up (the rounding customers expect on a bill)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


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
    whole = int(cents(amount) * 100)
    sign = -1 if whole < 0 else 1
    whole = abs(whole)
    shares = [max(Fraction(weight), Fraction(0)) for weight in weights]
    total = sum(shares, Fraction(0))
    if total == 0:
        shares, total = [Fraction(1)] * len(weights), Fraction(len(weights))
    exact = [whole * share / total for share in shares]
    parts = [math.floor(value) for value in exact]
    missing = whole - sum(parts)
    by_remainder = sorted(range(len(exact)), key=lambda index: (-(exact[index] - parts[index]), index))
    for index in by_remainder[:missing]:
        parts[index] += 1
    return [Decimal(sign * part).scaleb(-2) for part in parts]


def money_text(amount: Decimal, currency: str) -> str:
    """``₹250.00``: the amount as a customer reads it (no grouping, which differs by locale)."""
    symbol = SYMBOLS.get(currency.upper())
    text = f"{cents(amount):f}"
    return f"{symbol}{text}" if symbol else f"{currency.upper()} {text}"


def number_text(value: Decimal) -> str:
    """``10`` for 10.00, ``12.5`` for 12.50: percentages and quantities without trailing zeros."""
    normal = Decimal(value).normalize()
    return f"{normal:f}"
