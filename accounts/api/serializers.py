from rest_framework import serializers

from accounts.models import Role, User, normalize_email
from lms.api.serializers import UpdateInput

# Long enough for any passphrase, short enough that hashing it costs nothing unusual.
PASSWORD_MAX_LENGTH = 128


class EmailInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)

    def validate_email(self, value: str) -> str:
        # Lower-casing can lengthen an address ("İ" becomes two characters): check again.
        value = normalize_email(value)
        if len(value) > 254:
            raise serializers.ValidationError("Ensure this field has no more than 254 characters.")
        return value


class OtpSendInput(EmailInput):
    pass


class OtpSendOutput(serializers.Serializer):
    detail = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")


class OtpVerifyInput(EmailInput):
    otp = serializers.RegexField(r"^\d{6}$", max_length=6, error_messages={"invalid": "The code is 6 digits."})


class OtpVerifyOutput(serializers.Serializer):
    token = serializers.CharField(
        help_text="A JWT (type `email_verification`, the address in `email`) that proves the address; pass it to sign-up."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid.")


class SessionUserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role"]


class SessionOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = SessionUserOutput()


class SignupInput(EmailInput):
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, style={"input_type": "password"}
    )
    token = serializers.CharField(
        max_length=512,
        required=False,
        help_text="The token from OTP verification; may instead come as `Authorization: Bearer <token>`.",
    )


class SigninInput(EmailInput):
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, style={"input_type": "password"}
    )


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class RefreshOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class PasswordForgotInput(EmailInput):
    pass


class PasswordResetCheckOutput(serializers.Serializer):
    valid = serializers.BooleanField()


class PasswordResetInput(serializers.Serializer):
    token = serializers.CharField(max_length=256)
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, style={"input_type": "password"}
    )


class MeOutput(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id", "email", "first_name", "last_name", "role", "phone", "country", "state", "city",
            "marketing_email", "marketing_sms", "marketing_push", "email_verified", "email_verified_at",
            "date_joined", "last_login",
        ]  # fmt: skip


class MeUpdateInput(UpdateInput):
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.RegexField(
        r"^\+?[0-9][0-9 \-]{5,30}$", max_length=32, required=False, allow_blank=True,
        error_messages={"invalid": "Enter a phone number of digits, optionally with a leading +."},
    )  # fmt: skip
    country = serializers.CharField(max_length=64, required=False, allow_blank=True)
    state = serializers.CharField(max_length=64, required=False, allow_blank=True)
    city = serializers.CharField(max_length=64, required=False, allow_blank=True)
    marketing_email = serializers.BooleanField(required=False)
    marketing_sms = serializers.BooleanField(required=False)
    marketing_push = serializers.BooleanField(required=False)


class UserAdminOutput(MeOutput):
    login_count = serializers.IntegerField(read_only=True)

    class Meta(MeOutput.Meta):
        fields = [*MeOutput.Meta.fields, "is_active", "is_staff", "updated_at", "login_count"]


class UserAdminUpdateInput(UpdateInput):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
