from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "loyalty"

    def ready(self) -> None:
        from accounts.hooks import login_hooks
        from campaigns.points import points_providers
        from campaigns.services.campaigns import campaign_usages
        from commerce.hooks import order_batch_hooks
        from loyalty import segment_fields
        from loyalty.points import provider
        from loyalty.services.earning import logins_award, orders_changed
        from loyalty.services.programs import program_has_members

        order_batch_hooks.register(self.name, orders_changed)  # earn on new orders, reverse on cancels and refunds
        login_hooks.register(self.name, logins_award)  # daily login streaks
        campaign_usages.register(self.name, program_has_members)  # a program with members is archived, not erased
        points_providers.register(self.name, provider)  # use_points in cart/evaluate and redemptions
        segment_fields.register()  # loyalty criteria in the segments catalogue
        self._messages_register()
        self._simulation_register()
        self._program_history_record()

    @staticmethod
    def _simulation_register() -> None:
        """A program's "Simulate" replays it with loyalty's earning code."""
        from campaigns.models import CampaignKind
        from campaigns.simulation.runs import replays
        from loyalty.simulation import program_replay

        replays.register(CampaignKind.LOYALTY_PROGRAM, program_replay)

    @staticmethod
    def _program_history_record() -> None:
        """A program is saved as the LoyaltyProgram proxy, whose model signals are its own:
        simple_history listens on Campaign, so the proxy's saves and deletes are passed on to it
        (the program's changes land in its campaign row's history, with who made them)."""
        from django.db.models.signals import post_delete, post_save, pre_delete

        from campaigns.models import Campaign
        from loyalty.models import LoyaltyProgram

        for name, signal in (("post_save", post_save), ("pre_delete", pre_delete), ("post_delete", post_delete)):

            def forward(sender, signal=signal, **kwargs) -> None:
                signal.send(sender=Campaign, **kwargs)

            signal.connect(forward, sender=LoyaltyProgram, weak=False, dispatch_uid=f"program-history-{name}")

    @staticmethod
    def _messages_register() -> None:
        """What loyalty's messages tell notifications: their placeholders, how to fill them per
        recipient, and the expiring-points audience; and what a program's announcement may use."""
        from campaigns.services.announcements import source_placeholders_register
        from loyalty.services import messages
        from notifications import registry

        for name, description in messages.PLACEHOLDERS.items():
            registry.placeholders.register(name, description)
        registry.contexts.register(messages.PROGRAM, messages.program_context)
        registry.contexts.register(messages.TIER_CHANGED, messages.program_context)
        registry.contexts.register(messages.POINTS_EARNED, messages.points_earned_context)
        registry.contexts.register(messages.POINTS_EXPIRING, messages.points_expiring_context)
        registry.audiences.register(messages.EXPIRING_AUDIENCE, messages.expiring_audience)
        source_placeholders_register(messages.PROGRAM, messages.ANNOUNCE_PLACEHOLDERS)
