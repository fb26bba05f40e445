"""``manage.py create_api_key NAME``: a key for the e-commerce integration, printed once."""

from django.core.management.base import CommandError
from rest_framework_api_key.models import APIKey

from lms.command import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create an integration API key and print it once (only its hash is stored). Safe to re-run: a second "
        "run with the same NAME refuses while that key is live."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. 'storefront-prod'.")

    def handle(self, *args, name: str, **options) -> None:
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("NAME must be 1 to 50 characters.")
        if APIKey.objects.filter(name=name, revoked=False).exists():
            raise CommandError(f"A live key named {name!r} exists; revoke it in the admin or pick another name.")
        _, key = APIKey.objects.create_key(name=name)
        self.stdout.write(key)
        self.stderr.write(
            f"Created API key {name!r}. Store it now: it is not shown again. Send it as 'Authorization: Api-Key <key>'."
        )
