"""The console's user page, as a class a higher app may extend (commerce adds a customer's
orders and events to it) without importing ``accounts.admin``, which registers it."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm

from accounts.models import User
from accounts.services import sessions_end_all

# Console edits that change what an account's tokens may do end its sessions.
ACCESS_FIELDS = frozenset({"email", "role", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"})


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserAdmin(DjangoUserAdmin, ModelAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("-date_joined",)
    list_display = (
        "email",
        "first_name",
        "last_name",
        "role",
        "country",
        "email_verified_at",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    )
    list_filter = ("role", ("email_verified_at", admin.EmptyFieldListFilter), "is_active", "is_staff", "country")
    search_fields = ("email", "first_name", "last_name", "phone")
    readonly_fields = ("date_joined", "last_login", "updated_at", "login_events_link")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "phone", "country", "state", "city", "email_verified_at")}),
        ("Marketing consent", {"fields": ("marketing_email", "marketing_sms", "marketing_push")}),
        ("Access", {"fields": ("role", "is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login", "updated_at", "login_events_link")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    list_per_page = 50
    show_full_result_count = False

    def save_model(self, request, obj: User, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and ACCESS_FIELDS & set(form.changed_data):
            # Tokens carry the role and stand for the access granted: none outlives a change.
            sessions_end_all(user=obj)

    @admin.display(description="login events")
    def login_events_link(self, obj: User) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:accounts_loginevent_changelist") + f"?user__id__exact={obj.pk}"
        return format_html('<a href="{}">{} sign-ins</a>', url, obj.login_events.count())
