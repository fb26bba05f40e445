from django.db import models


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
