from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from notifications import registry
        from segments import fields  # noqa: F401 - registers the criteria this app knows
        from segments.selectors import segments_audience

        registry.audiences.register("segments", segments_audience)
