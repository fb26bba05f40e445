from django import forms
from django.contrib import admin
from rest_framework.exceptions import Throttled
from unfold.admin import ModelAdmin
from unfold.forms import AuthenticationForm

from accounts.api.views import SIGNIN_FAILURE_THROTTLES
from accounts.console import UserAdmin
from accounts.models import EmailOTP, LoginEvent, User
from lms.admin import SuperuserOnlyAdmin
from lms.api.throttling import FailureThrottle


class _LoginAttempt:
    """What the sign-in throttles read of a request (the address, the client's IP), for a form post."""

    def __init__(self, request, email: str) -> None:
        self.META = request.META if request is not None else {}
        self.headers = request.headers if request is not None else {}
        self.data = {"email": email}


class ConsoleLoginForm(AuthenticationForm):
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


admin.site.register(User, UserAdmin)


@admin.register(LoginEvent)
class LoginEventAdmin(SuperuserOnlyAdmin, ModelAdmin):
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
class EmailOTPAdmin(SuperuserOnlyAdmin, ModelAdmin):
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
