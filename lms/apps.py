from django.apps import AppConfig


class LmsConfig(AppConfig):
    """The project package as an app: holds the API platform and its management commands."""

    name = "lms"
    verbose_name = "LMS platform"

    def ready(self) -> None:
        from lms import collectors
        from lms.metrics import scrape_collectors

        scrape_collectors.register("celery", collectors.celery_queues)
        scrape_collectors.register("outbox", collectors.outbox)
