"""People and their authentication records: User, email OTPs, login events."""

import uuid
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    USER = "USER", "User"
    ADMIN = "ADMIN", "Admin"


def normalize_email(email: str) -> str:
    """The whole address lower-cased and trimmed: one person, one spelling."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> "User":
        return self.get(email=normalize_email(email))

    def _create_user(self, email: str, password: str | None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)  # None leaves an unusable password
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        fields.setdefault("role", Role.USER)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.ADMIN)
        fields.setdefault("email_verified_at", timezone.now())
        return self._create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.USER, db_index=True)
    phone = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=64, blank=True)
    marketing_email = models.BooleanField("email marketing consent", default=False)
    marketing_sms = models.BooleanField("SMS marketing consent", default=False)
    marketing_push = models.BooleanField("push marketing consent", default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # The e-commerce platform's id for this customer, and when they joined the platform; the
    # integration may create the record before the person ever signs up here.
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    platform_signed_up_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Every access and refresh token carries the version it was issued under; bumping it
    # (password reset, deactivation, role change) ends every session at once, access tokens
    # included, without a lookup of its own per request.
    token_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    is_staff = models.BooleanField("console access", default=False, help_text="May log into the admin console.")
    date_joined = models.DateTimeField(default=timezone.now, db_index=True)  # the console lists newest first
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        constraints = [
            # The truth behind "email is unique, case-insensitively"; services lower-case too.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(role=Role.ADMIN), name="accounts_user_superuser_is_admin"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
        if self.is_superuser:
            self.role = Role.ADMIN

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_plain_customer(self) -> bool:
        """A customer and nothing more: no console access, no ADMIN role, not a superuser."""
        return not self.is_staff and not self.is_superuser and self.role == Role.USER

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


class EmailOTPQuerySet(models.QuerySet):
    def live(self, at: datetime | None = None) -> "EmailOTPQuerySet":
        """Codes that may still be verified: not used, not superseded, not expired."""
        return self.filter(consumed_at__isnull=True, superseded_at__isnull=True, expires_at__gt=at or timezone.now())


class EmailOTP(models.Model):
    """A one-time code mailed to an address; only its keyed hash is stored."""

    email = models.EmailField(max_length=254)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    consumed_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    requested_ip = models.GenericIPAddressField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = EmailOTPQuerySet.as_manager()

    class Meta:
        verbose_name = "email OTP"
        indexes = [models.Index(fields=["email", "-created_at"], name="accounts_otp_email_created")]
        constraints = [
            # At most one live code per address: a new send supersedes the previous one.
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(consumed_at__isnull=True, superseded_at__isnull=True),
                name="accounts_otp_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"OTP for {self.email} at {self.created_at:%Y-%m-%d %H:%M}"


class LoginEvent(models.Model):
    """One successful sign-in; feeds login streaks and engagement criteria."""

    class Method(models.TextChoices):
        PASSWORD = "PASSWORD", "Password"
        SIGNUP = "SIGNUP", "Sign-up"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_events")
    occurred_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.PASSWORD)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["user", "-occurred_at"], name="accounts_login_user_time")]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class TokenFamily(models.Model):
    """One sign-in's chain of refresh tokens. Its id is the ``fam`` claim of every access and
    refresh token the chain issued; revoking it (sign-out, reuse of a rotated refresh token)
    ends those tokens, access tokens included."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    created_at = models.DateTimeField(default=timezone.now)
    # The one refresh token of the chain that may still be rotated.
    current_jti = models.CharField(max_length=255)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "token families"
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_tokenfamily_user")]

    def __str__(self) -> str:
        return f"{self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
