from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        from console.groups import groups_sync_after_migrate

        # Models added after the groups' migration join their group on the next migrate.
        post_migrate.connect(groups_sync_after_migrate, dispatch_uid="console-groups-sync")
