"""Channels, providers, deliveries and the in-app inbox; filled by the notifications issue."""
