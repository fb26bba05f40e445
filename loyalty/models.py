"""Loyalty programs and the points ledger; filled by the loyalty issue."""
