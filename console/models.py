from django.db import models

from accounts.models import User


class Report(models.Model):
    """No table: the holder of the console's report permissions (a permission needs a
    content type). ``console.view_reports`` opens the dashboard's figures and the reports;
    ``console.export_reports`` their CSV exports."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_reports", "Can view the dashboard and reports"),
            ("export_reports", "Can export reports as CSV"),
        ]

    def __str__(self) -> str:
        return "Reports"


class StaffUser(User):
    """Staff, ADMIN and superuser accounts: the System section's "Staff" list (the Customers
    list shows customers only)."""

    class Meta:
        proxy = True
        verbose_name = "staff account"
        verbose_name_plural = "staff accounts"
