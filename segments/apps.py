from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from notifications import registry
        from segments.criteria import register_field
        from segments.fields.product import PRODUCT_FIELDS
        from segments.fields.user import USER_FIELDS
        from segments.selectors import segments_audience

        for definition in (*USER_FIELDS, *PRODUCT_FIELDS):  # the criteria this app knows
            register_field(definition)
        registry.audiences.register("segments", segments_audience)
