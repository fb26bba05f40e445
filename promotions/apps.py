from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "promotions"

    def ready(self) -> None:
        from campaigns.services.campaigns import campaign_usages
        from notifications import registry
        from promotions import services
        from promotions.context import recipient_context
        from segments.services import register_segment_usage

        for name, description in services.PLACEHOLDERS.items():
            # Another source may provide the same name (a campaign's code): one registration serves both.
            if name not in registry.placeholders:
                registry.placeholders.register(name, description)
        registry.contexts.register(services.SOURCE_TYPE, recipient_context)
        register_segment_usage(services.segment_usage)  # a targeted segment is never deleted
        campaign_usages.register(
            self.name, services.campaign_in_promotions
        )  # a linked campaign is archived, not erased
