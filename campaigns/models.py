"""Campaigns, discount rules, codes and redemptions; filled by the campaigns issue."""
