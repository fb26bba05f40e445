"""``make run``'s helper: a console login for the newcomer, and where to find things."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from lms.command import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create the development admin if there is none, then print the admin login and docs URLs (DEBUG only). "
        "Safe to re-run: an existing admin is kept as it is."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", default="8000")
        parser.add_argument("--email", default="admin@lms.local")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, port: str, email: str, password: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("dev_bootstrap only runs with DEBUG on; use createsuperuser in production.")
        User = get_user_model()
        admin = User.objects.filter(is_superuser=True).order_by("id").first()
        if admin is None:
            admin = User.objects.create_superuser(email=email, password=password, first_name="Admin")
        # Every run prints the password this command set while it is still the admin's; one
        # an operator changed is never printed (nor stored anywhere to print).
        if admin.email.lower() == email.lower() and admin.check_password(password):
            login = f"{email} / {password}"
        else:
            login = f"{admin.email} / (the password you set)"
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  LMS is starting on {base}",
                    f"  Admin console : {base}/admin/   login {login}",
                    f"  API docs      : {base}/api/   (ReDoc {base}/api/redoc/, schema {base}/api/schema/)",
                    f"  Health        : {base}/healthz (liveness), {base}/readyz (database, cache, broker)",
                    "  Mail (OTP codes, reset links) is printed on this console.",
                    "",
                ]
            )
        )
