from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import order_receivers, segment_fields
        from campaigns.services import announcements
        from campaigns.services.campaigns import segment_usage
        from commerce.hooks import order_batch_hooks
        from notifications import registry
        from segments.services import register_segment_usage

        segment_fields.register()  # discount criteria in the segments catalogue
        register_segment_usage(segment_usage)  # a targeted segment is never deleted
        order_batch_hooks.register(
            self.name, order_receivers.orders_cancelled_or_refunded
        )  # voids the order's redemption
        # A campaign switched on announces itself: who to (its audience and geography) and what
        # its messages' placeholders are.
        registry.audiences.register("campaign", announcements.campaign_audience)
        registry.audiences.register("campaign_codes", announcements.codes_holders_audience)
        registry.contexts.register(announcements.CAMPAIGN_SOURCE, announcements.campaign_context)
        for name, description in announcements.CAMPAIGN_PLACEHOLDERS.items():
            registry.placeholders.register(name, description)
