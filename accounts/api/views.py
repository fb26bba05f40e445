"""The HTTP face of accounts: validate, call one service, shape the answer."""

from django.conf import settings
from django.db.models import Count, Q
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api import examples
from accounts.api import serializers as s
from accounts.models import Role, User
from lms.api.permissions import IsAdminRole
from lms.api.requests import client_ip, user_agent
from lms.api.schema import error_responses
from lms.api.throttling import EmailIPRateThrottle, EmailRateThrottle, FailureThrottle, IPRateThrottle, scoped
from lms.api.validation import validated
from lms.errors import Unauthorized


def _session_body(session: services.Session) -> dict:
    return s.SessionOutput({"access": session.access, "refresh": session.refresh, "user": session.user}).data


class PublicAPIView(APIView):
    """No authentication: a stray bearer header (e.g. the sign-up token) is not a JWT to check."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class OtpSendView(PublicAPIView):
    throttle_classes = [scoped(EmailRateThrottle, "otp_send_email"), scoped(IPRateThrottle, "otp_send_ip")]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_otp_send",
        summary="Mail a 6-digit sign-up code (seed: POST /user/send-otp)",
        request=s.OtpSendInput,
        responses={202: s.OtpSendOutput, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.OtpSendInput, request.data)
        services.otp_send(email=data["email"], ip=client_ip(request))
        body = {"detail": "A verification code has been sent.", "expires_in": int(settings.OTP_TTL.total_seconds())}
        return Response(s.OtpSendOutput(body).data, status=status.HTTP_202_ACCEPTED)


class OtpVerifyView(PublicAPIView):
    throttle_classes = [scoped(IPRateThrottle, "otp_verify_ip")]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_otp_verify",
        summary="Check the code; answers a token that proves the address (seed: POST /user/verify-otp)",
        request=s.OtpVerifyInput,
        responses={200: s.OtpVerifyOutput, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.OtpVerifyInput, request.data)
        verification = services.otp_verify(email=data["email"], code=data["otp"])
        return Response(s.OtpVerifyOutput({"token": verification.token, "expires_in": verification.expires_in}).data)


class SignupView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_signup",
        summary="Create the account of a verified address (seed: POST /user/signup)",
        request=s.SignupInput,
        examples=examples.SIGNUP,
        responses={201: s.SessionOutput, **error_responses(400, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.SignupInput, request.data)
        token = data.get("token")
        if not token:
            header_type, _, header_token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
            token = header_token.strip() if header_type.lower() == "bearer" else ""
        if not token:
            raise ValidationError({"token": ["The email verification token is required (body or bearer header)."]})
        session = services.user_signup(
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            verification_token=token,
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
        return Response(_session_body(session), status=status.HTTP_201_CREATED)


# Wrong passwords, counted the same way by the API's sign-in and the console's login.
SIGNIN_FAILURE_THROTTLES = (
    scoped(EmailIPRateThrottle, "signin_failure_email_ip"),
    scoped(EmailRateThrottle, "signin_failure_email"),
    scoped(IPRateThrottle, "signin_failure_ip"),
)


class SigninView(PublicAPIView):
    # Only wrong guesses count: per address from one IP (the lockout a stranger cannot impose
    # on the owner's own device), per address from anywhere (a looser cap on spread-out
    # guessing) and per IP (one client guessing many addresses).
    failure_scopes = SIGNIN_FAILURE_THROTTLES

    @extend_schema(
        tags=["auth"],
        operation_id="auth_signin",
        summary="Email + password -> access and refresh tokens (seed: POST /auth/signin)",
        request=s.SigninInput,
        examples=examples.SIGNIN,
        responses={200: s.SessionOutput, **error_responses(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.SigninInput, request.data)
        failures = FailureThrottle(request, self, *(throttle() for throttle in self.failure_scopes))
        failures.acquire()
        try:
            session = services.user_signin(
                email=data["email"], password=data["password"], ip=client_ip(request), user_agent=user_agent(request)
            )
        except Unauthorized:
            raise  # a wrong guess keeps its slots: that is the count
        except Exception:
            failures.release()  # the server failed (database down...), not the guess
            raise
        failures.release()
        return Response(_session_body(session))


class TokenRefreshView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_token_refresh",
        summary="Rotate a refresh token; the old one is blacklisted",
        request=s.RefreshInput,
        responses={200: s.RefreshOutput, **error_responses(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RefreshInput, request.data)
        session = services.session_refresh(refresh=data["refresh"])
        return Response(s.RefreshOutput({"access": session.access, "refresh": session.refresh}).data)


class SignoutView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_signout",
        summary="End the session: blacklist its refresh token",
        request=s.RefreshInput,
        responses={204: None, **error_responses(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RefreshInput, request.data)
        services.session_end(refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordForgotView(PublicAPIView):
    throttle_classes = [
        scoped(EmailRateThrottle, "password_forgot_email"),
        scoped(IPRateThrottle, "password_forgot_ip"),
    ]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_forgot",
        summary="Mail a reset link; the same answer whether or not the address has an account "
        "(seed: POST /auth/forget-password)",
        request=s.PasswordForgotInput,
        responses={202: s.DetailOutput, **error_responses(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.PasswordForgotInput, request.data)
        services.password_forgot(email=data["email"])
        body = {"detail": "If an account exists for this address, a reset link has been sent to it."}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class PasswordResetView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset_check",
        summary="Is this reset token valid? (seed: GET /auth/reset-password?token=)",
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True)],
        responses={200: s.PasswordResetCheckOutput},
    )
    def get(self, request: Request) -> Response:
        token = request.query_params.get("token", "")[:256]
        return Response({"valid": services.password_reset_user(token=token) is not None})

    @extend_schema(
        tags=["auth"],
        operation_id="auth_password_reset",
        summary="Set a new password with a reset token (seed: POST /auth/reset-password)",
        request=s.PasswordResetInput,
        responses={200: s.DetailOutput, **error_responses(400)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.PasswordResetInput, request.data)
        services.password_reset(token=data["token"], password=data["password"])
        return Response({"detail": "The password has been changed; sign in with it."})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["me"], operation_id="me_retrieve", responses={200: s.MeOutput, **error_responses(401)})
    def get(self, request: Request) -> Response:
        return Response(s.MeOutput(request.user).data)

    @extend_schema(
        tags=["me"],
        operation_id="me_update",
        request=s.MeUpdateInput,
        responses={200: s.MeOutput, **error_responses(400, 401)},
    )
    def patch(self, request: Request) -> Response:
        serializer = s.MeUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_profile_update(user=request.user, **serializer.validated_data)
        return Response(s.MeOutput(user).data)


class UserFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)
    email_verified = filters.BooleanFilter(field_name="email_verified_at", lookup_expr="isnull", exclude=True)
    country = filters.CharFilter(lookup_expr="iexact")
    search = filters.CharFilter(method="filter_search", label="Email or name contains")
    joined_after = filters.IsoDateTimeFilter(field_name="date_joined", lookup_expr="gte")
    joined_before = filters.IsoDateTimeFilter(field_name="date_joined", lookup_expr="lt")

    class Meta:
        model = User
        fields = ["role", "is_active", "country"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(email__icontains=value) | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )


@extend_schema_view(
    list=extend_schema(
        tags=["users"],
        summary="Accounts (ADMIN)",
        responses={200: s.UserAdminOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=["users"],
        summary="One account (ADMIN)",
        responses={200: s.UserAdminOutput, **error_responses(401, 403, 404)},
    ),
    partial_update=extend_schema(
        tags=["users"],
        summary="Change an account's role or active flag (ADMIN)",
        request=s.UserAdminUpdateInput,
        responses={200: s.UserAdminOutput, **error_responses(400, 401, 403, 404, 409)},
    ),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAdminRole]
    serializer_class = s.UserAdminOutput
    filterset_class = UserFilter
    queryset = User.objects.annotate(login_count=Count("login_events")).order_by("id")
    http_method_names = ["get", "patch", "head", "options"]

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.UserAdminUpdateInput, request.data)
        user = services.user_admin_update(user=self.get_object(), by=request.user, **data)
        return Response(s.UserAdminOutput(self.get_queryset().get(pk=user.pk)).data)
