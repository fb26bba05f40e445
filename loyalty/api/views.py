"""Loyalty over HTTP: programs (CRUD and status), a customer's points, redemption, adjustments."""

import re
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import JWTAuthentication
from accounts.models import User, normalize_email
from campaigns.models import CampaignKind, CampaignStatus
from campaigns.services.campaigns import campaign_delete, campaign_status_set
from commerce.authentication import (
    ApiKeyAuthentication,
    IntegrationRateThrottle,
    IsIntegrationOrAdmin,
    acting_customer,
)
from commerce.services.customers import customer_for, customer_plain
from lms.api.filters import LiveRowFilter
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.validation import validated
from lms.errors import Invalid, NotFound
from loyalty.api import examples
from loyalty.api import serializers as s
from loyalty.models import EarningRule, LoyaltyProgram, PointsTransaction
from loyalty.selectors import account_summaries, available_points, liability
from loyalty.services.ledger import points_adjust, points_redeem
from loyalty.services.programs import program_create, program_update


def program_queryset():
    """Programs with everything the output shows, in a constant number of queries."""
    return (
        LoyaltyProgram.objects.select_related("loyalty_settings")
        .prefetch_related(
            "segments",
            Prefetch("earning_rules", queryset=EarningRule.objects.prefetch_related("categories")),
            "loyalty_tiers",
        )
        .order_by("-created_at", "-id")
    )


class ProgramFilter(LiveRowFilter):
    status = filters.ChoiceFilter(choices=CampaignStatus.choices)
    kind = filters.ChoiceFilter(choices=CampaignKind.choices)  # as GET /campaigns/ takes it: LOYALTY_PROGRAM or none

    class Meta:
        model = LoyaltyProgram
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(
        tags=["loyalty"], summary="Loyalty programs (also listed in GET /campaigns/)",
        responses={200: s.ProgramOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=["loyalty"], summary="One loyalty program", responses={200: s.ProgramOutput, **error_responses(401, 403, 404)}
    ),
)  # fmt: skip
class ProgramViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = program_queryset()
    serializer_class = s.ProgramOutput
    permission_classes = [IsAdminOrModelPermission]
    filterset_class = ProgramFilter
    lookup_value_regex = r"\d+"

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["liability"] = getattr(self, "_liability", {})
        return context

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._liability = liability([program.pk for program in page or []])
        return page

    def get_object(self):
        program = super().get_object()
        self._liability = liability([program.pk])
        return program

    def _answer(self, program, code: int = status.HTTP_200_OK) -> Response:
        program = program_queryset().get(pk=program.pk)
        return Response(s.ProgramOutput(program, context={"liability": liability([program.pk])}).data, status=code)

    @extend_schema(
        tags=["loyalty"],
        summary="Create a loyalty program (seed: POST /campaigns/loyaltyprogram/create)",
        request=s.ProgramCreateInput,
        examples=examples.PROGRAM_CREATE,
        responses={201: s.ProgramOutput, **error_responses(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        data = dict(validated(s.ProgramCreateInput, request.data))
        program = program_create(created_by=request.user if request.user.is_authenticated else None, **data)
        return self._answer(program, status.HTTP_201_CREATED)

    @extend_schema(
        tags=["loyalty"],
        summary="Change a program (rules or tiers, when sent, replace all of them)",
        request=s.ProgramUpdateInput,
        responses={200: s.ProgramOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = dict(validated(s.ProgramUpdateInput, request.data))
        return self._answer(program_update(program=self.get_object(), **data))

    @extend_schema(
        tags=["loyalty"],
        summary="Delete a program; one with members is archived (switched off, kept with its ledger)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        campaign_delete(campaign=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["loyalty"],
        summary="Switch a program on or off",
        request=s.ProgramStatusInput,
        responses={200: s.ProgramOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["patch"], url_path="status")
    def status(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.ProgramStatusInput, request.data)
        return self._answer(campaign_status_set(campaign=self.get_object(), status=data["status"]))


# --- A customer's points -------------------------------------------------------------------------


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["loyalty"],
        summary="My points: per program balance, tier, progress to the next tier, points expiring in 30 days",
        responses={200: s.LoyaltyMeOutput, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(s.LoyaltyMeOutput({"programs": account_summaries(request.user, timezone.now())}).data)


class TransactionFilter(filters.FilterSet):
    program_id = filters.NumberFilter(field_name="account__program_id")
    kind = filters.ChoiceFilter(choices=PointsTransaction._meta.get_field("kind").choices)

    class Meta:
        model = PointsTransaction
        fields = ["program_id", "kind"]


def transactions_of(customer_id: int):
    return PointsTransaction.objects.filter(account__customer_id=customer_id).select_related("account").order_by("-id")


@extend_schema_view(
    get=extend_schema(
        tags=["loyalty"], summary="My points transactions, newest first (?page&limit&program_id&kind)",
        responses={200: s.TransactionOutput(many=True), **error_responses(400, 401)},
    )
)  # fmt: skip
class MyTransactionsView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.TransactionOutput
    filterset_class = TransactionFilter

    def get_queryset(self):
        return transactions_of(self.request.user.pk)


class LoyaltyView(APIView):
    authentication_classes = [ApiKeyAuthentication, JWTAuthentication]
    throttle_classes = [IntegrationRateThrottle]


class RedeemView(LoyaltyView):
    permission_classes = [IsAuthenticated | IsIntegrationOrAdmin]

    @extend_schema(
        tags=["loyalty"],
        summary="Spend points for an order: answers their rupee value and the new balance (idempotent on order_id)",
        request=s.RedeemInput,
        examples=examples.REDEEM,
        responses={201: s.RedeemOutput, 200: s.RedeemOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RedeemInput, request.data)
        customer, named = customer_for(acting=acting_customer(request), ref=data.get("customer"), create=False)
        if not named:
            raise Invalid("customer_required", "Name the customer whose points are spent.", path="customer")
        if customer is None:
            raise NotFound("customer_not_found", "No such customer.", path="customer")
        redeemed = points_redeem(
            customer_id=customer.pk, program_id=data["program_id"], points=data["points"], order_id=data["order_id"]
        )
        row = redeemed.transaction
        body = {
            "program_id": redeemed.account.program_id,
            "order_id": row.reference,
            "points": -row.points,
            "value": row.value,
            "balance": redeemed.available if redeemed.available is not None else available_points(redeemed.account),
            "transaction_id": row.pk,
        }
        code = status.HTTP_201_CREATED if redeemed.created else status.HTTP_200_OK
        return Response(s.RedeemOutput(body).data, status=code)


def _customer_in_path(request: Request, customer: str) -> User:
    by = request.query_params.get("by", "id")
    if by == "id":
        found = User.objects.filter(pk=int(customer)).first() if re.fullmatch(r"[0-9]{1,18}", customer) else None
    elif by == "external_id":
        found = User.objects.filter(external_id=customer).first()
    elif by == "email":
        found = User.objects.filter(email=normalize_email(customer)).first()
    else:
        raise Invalid("invalid_parameter", "by is id, external_id or email.", param="by")
    if found is None:
        raise NotFound("customer_not_found", f"No customer with {by} {customer[:64]!r}.")
    return customer_plain(found)


BY = OpenApiParameter(
    "by", str, enum=["id", "external_id", "email"], description="How {customer} names the customer (default id)."
)


class AdjustView(LoyaltyView):
    permission_classes = [IsIntegrationOrAdmin]

    @extend_schema(
        tags=["loyalty"],
        summary="Add or take points by hand, with a reason (admin or integration)",
        parameters=[BY],
        request=s.AdjustInput,
        responses={201: s.AdjustOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, customer: str) -> Response:
        data = validated(s.AdjustInput, request.data)
        found = _customer_in_path(request, customer)
        by = request.user if request.user and request.user.is_authenticated else None
        row = points_adjust(
            customer=found,
            program_id=data["program_id"],
            points=data["points"],
            reason=data["reason"],
            by=by,
            idempotency_key=data.get("idempotency_key", ""),
        )
        row = PointsTransaction.objects.select_related("account").get(pk=row.pk)
        body = {
            "customer_id": found.pk,
            "program_id": row.account.program_id,
            "balance": available_points(row.account),
            "transaction": s.TransactionOutput(row).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["loyalty"], summary="A customer's points transactions (admin or integration)", parameters=[BY],
        responses={200: s.TransactionOutput(many=True), **error_responses(400, 401, 403, 404)},
    )
)  # fmt: skip
class CustomerTransactionsView(ListAPIView):
    authentication_classes = [ApiKeyAuthentication, JWTAuthentication]
    throttle_classes = [IntegrationRateThrottle]
    permission_classes = [IsIntegrationOrAdmin]
    serializer_class = s.TransactionOutput
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PointsTransaction.objects.none()
        return transactions_of(_customer_in_path(self.request, self.kwargs["customer"]).pk)
