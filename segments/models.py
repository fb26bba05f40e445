"""Customer and product segments; filled by the segments issue."""
