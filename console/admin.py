"""The System section's third-party models, registered again in the console's look and for
superusers only (see ``lms.admin.SuperuserOnlyAdmin``)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.token_blacklist.admin import BlacklistedTokenAdmin, OutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from unfold.admin import ModelAdmin

from lms.admin import SuperuserOnlyAdmin

# The landing page (console/dashboard.py fills it). Named here: an app template called
# admin/index.html would lose to unfold's, which comes first in INSTALLED_APPS.
admin.site.index_template = "console/index.html"

for model in (Group, APIKey, OutstandingToken, BlacklistedToken):
    admin.site.unregister(model)


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdmin, DjangoGroupAdmin, ModelAdmin):
    pass


@admin.register(APIKey)
class ApiKeyAdmin(SuperuserOnlyAdmin, APIKeyModelAdmin, ModelAdmin):
    pass


@admin.register(OutstandingToken)
class SessionTokenAdmin(SuperuserOnlyAdmin, OutstandingTokenAdmin, ModelAdmin):
    pass


@admin.register(BlacklistedToken)
class RevokedTokenAdmin(SuperuserOnlyAdmin, BlacklistedTokenAdmin, ModelAdmin):
    pass


from console import customers  # noqa: E402,F401 - registers the customer and staff pages
