"""Every write of the campaigns domain, by area: campaigns, codes, redemptions."""
