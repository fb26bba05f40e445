from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        from lms.metrics import scrape_collectors
        from notifications import checks, collectors, registry  # noqa: F401 - checks registers itself
        from notifications.services import messages
        from notifications.services.retention import notifications_pruners_register

        notifications_pruners_register()
        registry.audiences.register("customers", messages.customers_audience)
        registry.audiences.register("all", messages.all_customers_audience)
        registry.placeholders.register("first_name", "The recipient's first name.")
        registry.placeholders.register("last_name", "The recipient's last name.")
        registry.placeholders.register("email", "The recipient's email address.")
        scrape_collectors.register("notifications", collectors.deliveries)
