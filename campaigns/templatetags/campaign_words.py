"""Template filters that tell the engine's answer in a marketer's words."""

from django import template

from campaigns.cart_report import reason_words
from campaigns.engine import types as t

register = template.Library()


@register.filter
def reason_in_words(rejected: t.Rejected) -> str:
    """A refusal's reason as a sentence (no engine code), with the engine's details if any."""
    words, detail = reason_words(rejected)
    return f"{words} ({detail})" if detail else words
