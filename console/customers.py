"""The customer page as a 360° view, and staff accounts on their own superuser-only list.

Customers (plain ``USER`` accounts without console access) are the Audience section's
"Customers": their page shows the profile and consents, then orders and spend, points per
program, segments, redemptions and messages (``console.selectors.customer_360``). It has no
permission picker: console access belongs to staff accounts, which the System section's
"Staff" list holds (superusers only). Only a superuser changes what an account may do
(``ACCESS_FIELDS``) or its password; a Marketer edits the profile and consents, an Analyst
reads.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from accounts.console import ACCESS_FIELDS, UserAdmin
from accounts.models import Role, User
from commerce.admin import CustomerAdmin
from console.models import StaffUser
from console.selectors import customer_360
from lms.admin import SuperuserOnlyAdmin

PLAIN_CUSTOMER = Q(is_staff=False, is_superuser=False, role=Role.USER)


def _without(fieldsets, names: frozenset[str]):
    kept = []
    for title, options in fieldsets:
        fields = tuple(field for field in options["fields"] if field not in names)
        if fields:
            kept.append((title, {**options, "fields": fields}))
    return tuple(kept)


class Customer360Admin(CustomerAdmin):
    change_form_template = "console/customer_change_form.html"
    list_display = tuple(name for name in CustomerAdmin.list_display if name != "is_staff")
    list_filter = tuple(name for name in CustomerAdmin.list_filter if name != "is_staff")
    # Superusers may still let a customer in (then the account moves to the Staff list).
    superuser_access = ("Access", {"fields": ("is_active", "is_staff", "role")})

    def get_queryset(self, request):
        return super().get_queryset(request).filter(PLAIN_CUSTOMER)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        fieldsets = _without(self.fieldsets, frozenset({"role", "is_active", "is_staff", "is_superuser", "groups",
                                                        "user_permissions"}))  # fmt: skip
        return (*fieldsets, self.superuser_access) if request.user.is_superuser else fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and not request.user.is_superuser:
            access = ACCESS_FIELDS - {"groups", "user_permissions", "is_superuser"}  # not on the page at all
            return (*readonly, *sorted(access), "email_verified_at")
        return readonly

    def has_add_permission(self, request) -> bool:
        # Customers come from the shop (ingestion) or sign up themselves.
        return request.user.is_superuser and super().has_add_permission(request)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied  # a customer's password is theirs: the reset link, not the console
        return super().user_change_password(request, id, form_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, object_id)
        if customer is not None and self.has_view_or_change_permission(request, customer):
            extra_context["customer_360"] = customer_360(customer)
        return super().change_view(request, object_id, form_url, extra_context)


class StaffUserAdmin(SuperuserOnlyAdmin, UserAdmin):
    """Console accounts, with their access fields (groups, permissions) as Django has them."""

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(PLAIN_CUSTOMER)


admin.site.unregister(User)
admin.site.register(User, Customer360Admin)
admin.site.register(StaffUser, StaffUserAdmin)
