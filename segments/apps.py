from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _product_membership_changed(sender, **kwargs) -> None:
    # Memberships saved outside the services (the console, factories): the cart evaluation's
    # copy of the catalogue carries each product's segments.
    from commerce.services.catalogue import catalogue_invalidate

    catalogue_invalidate()


class SegmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segments"

    def ready(self) -> None:
        from notifications import registry
        from segments import checks  # noqa: F401 - registers itself
        from segments.criteria import register_field
        from segments.fields.product import PRODUCT_FIELDS
        from segments.fields.user import USER_FIELDS
        from segments.selectors import segments_audience

        for definition in (*USER_FIELDS, *PRODUCT_FIELDS):  # the criteria this app knows
            register_field(definition)
        registry.audiences.register("segments", segments_audience)
        from segments.models import ProductMembership

        post_save.connect(
            _product_membership_changed, sender=ProductMembership, dispatch_uid="catalogue-membership-save"
        )
        post_delete.connect(
            _product_membership_changed, sender=ProductMembership, dispatch_uid="catalogue-membership-delete"
        )
