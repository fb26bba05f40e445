"""Who and where a campaign (or a loyalty program) runs for: the geography and audience checks
of the cart engine, public so a loyalty program judges a customer by the very same rules."""

from campaigns.engine.types import (
    AUDIENCE_ALL,
    AUDIENCE_EXISTING,
    AUDIENCE_GROUPS,
    AUDIENCE_NEW,
    AUDIENCE_SEGMENTS,
    REASONS,
    Campaign,
    Location,
)


def geo_refusal(campaign: Campaign, where: Location) -> str | None:
    """Why ``campaign`` does not run at ``where`` (each non-empty list among countries, states
    and cities must hold the value, ignoring case), or None."""
    if not (campaign.countries or campaign.states or campaign.cities):
        return None  # runs anywhere
    for allowed, value, label in (
        (campaign.countries, where.country, "country"),
        (campaign.states, where.state, "state"),
        (campaign.cities, where.city, "city"),
    ):
        if allowed and value.strip().casefold() not in {place.casefold() for place in allowed}:
            return f"The campaign does not run in this {label} ({value or 'not given'})."
    return None


def audience_refusal(
    campaign: Campaign, *, customer_id: int | None, is_new_customer: bool, segment_ids: frozenset[int]
) -> tuple[str, str] | None:
    """(reason, message) when the campaign's audience leaves this customer out, or None.
    ``customer_id`` None is a guest; ``is_new_customer`` means no earlier counted order."""
    audience = campaign.audience
    if audience == AUDIENCE_ALL:
        return None
    if customer_id is None:
        return "customer_required", REASONS["customer_required"]
    if audience == AUDIENCE_NEW:
        return None if is_new_customer else ("audience", "The campaign is for new customers.")
    if audience == AUDIENCE_EXISTING:
        return ("audience", "The campaign is for existing customers.") if is_new_customer else None
    if audience in (AUDIENCE_GROUPS, AUDIENCE_SEGMENTS):
        return None if campaign.segment_ids & segment_ids else ("segment", REASONS["segment"])
    return "audience", REASONS["audience"]  # an audience this engine does not know: give nothing
