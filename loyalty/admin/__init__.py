"""The marketer console for loyalty.

Thin over the services: a program's page (its campaign fields, settings, earning rules and
tiers) is checked by ``program_check`` (loyalty/forms.py) and saved by ``program_create`` /
``program_update``; its actions call ``campaign_status_set`` and ``campaign_delete``; the one
write on accounts, "Adjust points", calls ``points_adjust``. Accounts and the ledger are
otherwise read-only.

``programs`` holds the program pages and the liability summary, ``accounts`` the accounts and
the ledger; importing them registers them.
"""

from loyalty.admin import accounts, programs  # noqa: F401
