from django.apps import AppConfig


class LmsConfig(AppConfig):
    """The project package as an app: holds the API platform and its management commands."""

    name = "lms"
    verbose_name = "LMS platform"
