from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.urls import reverse
from django.utils.html import format_html
from rest_framework.exceptions import Throttled

from accounts.api.views import SIGNIN_FAILURE_THROTTLES
from accounts.models import EmailOTP, LoginEvent, User
from accounts.services import sessions_end_all
from lms.api.throttling import FailureThrottle

# Console edits that change what an account's tokens may do end its sessions.
ACCESS_FIELDS = frozenset({"email", "role", "is_active", "is_staff", "is_superuser", "groups", "user_permissions"})


class _LoginAttempt:
    """What the sign-in throttles read of a request (the address, the client's IP), for a form post."""

    def __init__(self, request, email: str) -> None:
        self.META = request.META if request is not None else {}
        self.headers = request.headers if request is not None else {}
        self.data = {"email": email}


class ConsoleLoginForm(AdminAuthenticationForm):
    """The console's login counts wrong passwords exactly as the API's sign-in does (per
    address from one IP, per address, per IP): otherwise it would be an unthrottled way to
    guess a staff or ADMIN password. A failure the server caused is not counted."""

    def clean(self):
        attempt = _LoginAttempt(self.request, self.data.get("username") or "")
        failures = FailureThrottle(attempt, None, *(throttle() for throttle in SIGNIN_FAILURE_THROTTLES))
        try:
            failures.acquire()
        except Throttled as refused:
            raise forms.ValidationError(
                f"Too many wrong passwords; try again in {refused.wait:.0f} seconds.", code="throttled"
            ) from None
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            raise  # a wrong guess (or an inactive account) keeps its slots: that is the count
        except Exception:
            failures.release()
            raise
        failures.release()
        return cleaned


admin.site.login_form = ConsoleLoginForm


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
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


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin):
    list_display = ("user", "occurred_at", "method", "ip")
    list_filter = ("method", "occurred_at")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    date_hierarchy = "occurred_at"
    readonly_fields = ("user", "occurred_at", "method", "ip", "user_agent")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailOTP)
class EmailOTPAdmin(admin.ModelAdmin):
    """Read-only audit of codes sent: the codes themselves are never stored."""

    list_display = (
        "email",
        "created_at",
        "expires_at",
        "attempts",
        "consumed_at",
        "superseded_at",
        "sent_at",
        "requested_ip",
    )
    search_fields = ("email",)
    list_filter = ("created_at",)
    exclude = ("code_hash",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
