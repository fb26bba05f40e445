from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loyalty"

    def ready(self) -> None:
        from accounts.hooks import register_login_hook
        from campaigns.points import register_points_provider
        from campaigns.services.campaigns import register_campaign_usage
        from commerce.hooks import register_order_batch_hook
        from loyalty import criteria
        from loyalty.points import provider
        from loyalty.services.earning import logins_award, orders_changed
        from loyalty.services.programs import program_has_members

        register_order_batch_hook(orders_changed)  # earn on new orders, reverse on cancels and refunds
        register_login_hook(logins_award)  # daily login streaks
        register_campaign_usage(program_has_members)  # a program with members is archived, not erased
        register_points_provider(provider)  # use_points in cart/evaluate and redemptions
        criteria.register()
