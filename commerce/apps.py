from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _catalogue_changed(sender, **kwargs) -> None:
    # Saves outside the services (the console, factories): copies of the catalogue rebuild.
    from commerce.services.catalogue import catalogue_invalidate

    catalogue_invalidate()


class CommerceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "commerce"

    def ready(self) -> None:
        from rest_framework_api_key.models import APIKey

        from commerce.models import Brand, Category, Product
        from commerce.services.api_keys import api_keys_forget
        from commerce.services.retention import commerce_pruners_register

        # A key saved or deleted anywhere in this process (the console) is checked again.
        post_save.connect(api_keys_forget, sender=APIKey, dispatch_uid="api-keys-forget-save")
        post_delete.connect(api_keys_forget, sender=APIKey, dispatch_uid="api-keys-forget-delete")
        for model in (Product, Category, Brand):
            post_save.connect(_catalogue_changed, sender=model, dispatch_uid=f"catalogue-{model.__name__}-save")
            post_delete.connect(_catalogue_changed, sender=model, dispatch_uid=f"catalogue-{model.__name__}-delete")
        commerce_pruners_register()
