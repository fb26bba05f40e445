"""The console's two staff groups and what each may do.

``Marketer`` manages campaigns, programs, segments, promotions and messages; ``Analyst`` reads
everything a marketer sees, with the reports and their exports, and edits nothing. A migration
creates both; ``groups_sync`` runs again after every ``migrate`` so a model added later joins
its group. It only ever adds permissions: what an administrator granted by hand stays.
"""

from django.apps import apps as global_apps

MANAGE = ("add", "change", "delete", "view")
VIEW = ("view",)

# (app label, model name, actions a Marketer has). Every listed model is viewable by an Analyst.
MARKETER_MODELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("campaigns", "campaign", MANAGE),
    ("campaigns", "discountrule", MANAGE),
    ("campaigns", "couponcode", MANAGE),
    ("campaigns", "redemption", VIEW),
    ("campaigns", "orderredemption", VIEW),
    ("loyalty", "loyaltyprogram", MANAGE),
    ("loyalty", "programsettings", MANAGE),
    ("loyalty", "earningrule", MANAGE),
    ("loyalty", "tier", MANAGE),
    ("loyalty", "loyaltyaccount", ("view", "change")),  # change: a points adjustment
    ("loyalty", "pointstransaction", VIEW),
    ("segments", "segment", MANAGE),
    ("promotions", "promotion", MANAGE),
    ("notifications", "message", VIEW),
    ("notifications", "delivery", VIEW),
    ("notifications", "preference", VIEW),
    ("notifications", "pushdevice", VIEW),
    ("accounts", "user", ("view", "change")),  # change: a customer's profile and consents
    ("commerce", "category", VIEW),
    ("commerce", "brand", VIEW),
    ("commerce", "product", VIEW),
    ("commerce", "order", VIEW),
    ("commerce", "refundline", VIEW),
    ("commerce", "interactionevent", VIEW),
)
REPORTS = ("view_reports", "export_reports")

MARKETER = "Marketer"
ANALYST = "Analyst"


def group_codenames() -> dict[str, set[tuple[str, str]]]:
    """Each group's permissions as (app label, codename)."""
    marketer = {(app, f"{action}_{model}") for app, model, actions in MARKETER_MODELS for action in actions}
    analyst = {(app, f"view_{model}") for app, model, _ in MARKETER_MODELS}
    reports = {("console", codename) for codename in REPORTS}
    return {MARKETER: marketer | reports, ANALYST: analyst | reports}


def groups_sync(apps=global_apps) -> None:
    """Create the groups if missing and give each the permissions it lacks (never removes)."""
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        # Permissions are made after migrate by default; the groups need them now. A
        # migration's app configs are stubs that create_permissions skips without this flag.
        had = getattr(config, "models_module", None)
        config.models_module = had or True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = had
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in group_codenames().items():
        group, _ = Group.objects.get_or_create(name=name)
        labels = {label for label, _ in wanted}
        found = Permission.objects.filter(
            content_type__app_label__in=labels, codename__in={codename for _, codename in wanted}
        ).select_related("content_type")
        group.permissions.add(*[p for p in found if (p.content_type.app_label, p.codename) in wanted])


def groups_sync_after_migrate(sender, apps=global_apps, **kwargs) -> None:
    if sender.name == "console":
        groups_sync(apps)
