"""Customer-facing promotions; filled by the promotions issue."""
