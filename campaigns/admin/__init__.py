"""The marketer console for discount and free-shipping campaigns (loyalty programs are the
loyalty app's), their coupon codes and their redemptions.

Thin over the services: the campaign form and its rule rows are checked by ``campaign_check``
(campaigns/forms.py), saving calls ``campaign_create``/``campaign_update``, and the actions call
``campaign_status_set``, ``campaign_duplicate``, ``campaign_delete``, ``codes_generate`` and
``codes_assign_segment``.

``campaigns`` holds the campaign pages, ``actions`` the list's actions, ``records`` the
read-only codes and redemptions; importing them registers them.
"""

from campaigns.admin import campaigns, records  # noqa: F401
