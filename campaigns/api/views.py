"""Campaigns over HTTP: CRUD and status, the cart evaluation, redemption and void."""

from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import JWTAuthentication
from accounts.models import User
from campaigns.api import examples
from campaigns.api import serializers as s
from campaigns.api.throttling import (
    CartCustomerRateThrottle,
    CartIntegrationRateThrottle,
    UnknownCodeBudget,
    unknown_codes,
)
from campaigns.evaluation import CartRequest, cart_evaluate, pinned_at, result_json
from campaigns.models import Campaign, CampaignKind, DiscountRule, OrderRedemption
from campaigns.points import PointsRequest
from campaigns.refusals import refusals_count
from campaigns.services import campaigns as services
from campaigns.services.redemptions import redemption_create, redemption_void
from campaigns.services.rules import TARGET_RELATIONS
from commerce.authentication import ApiKeyAuthentication, IsIntegrationOrAdmin, acting_customer, is_integration
from commerce.services.customers import customer_for
from lms.api.filters import LiveRowFilter
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.validation import validated, validated_hot
from lms.errors import Conflict, NotFound


def campaign_queryset():
    """Campaigns with everything the output shows, in a constant number of queries."""
    rules = DiscountRule.objects.prefetch_related(*TARGET_RELATIONS.values())
    return (
        Campaign.objects.select_related("counter")
        .prefetch_related("segments", Prefetch("rules", queryset=rules))
        .order_by("-created_at", "-id")
    )


class CampaignFilter(LiveRowFilter):
    kind = filters.ChoiceFilter(choices=CampaignKind.choices)
    status = filters.ChoiceFilter(choices=Campaign._meta.get_field("status").choices)

    class Meta:
        model = Campaign
        fields = ["kind", "status"]


@extend_schema_view(
    list=extend_schema(
        tags=["campaigns"], summary="Campaigns of every kind (seed: GET /campaigns/get)",
        responses={200: s.CampaignOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=["campaigns"], summary="One campaign", responses={200: s.CampaignOutput, **error_responses(401, 403, 404)}
    ),
)  # fmt: skip
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = campaign_queryset()
    serializer_class = s.CampaignOutput
    permission_classes = [IsAdminOrModelPermission]
    filterset_class = CampaignFilter
    lookup_value_regex = r"\d+"

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _discount_campaign(self) -> Campaign:
        campaign = self.get_object()
        if campaign.kind == CampaignKind.LOYALTY_PROGRAM:
            raise NotFound("not_a_discount_campaign", "This is a loyalty program; change it under /loyalty/programs/.")
        return campaign

    def _answer(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.CampaignOutput(campaign_queryset().get(pk=campaign.pk)).data, status=code)

    @extend_schema(
        tags=["campaigns"],
        summary="Change a discount or free-shipping campaign (rules, when sent, replace all rules)",
        request=s.CampaignUpdateInput,
        responses={200: s.CampaignOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = dict(validated(s.CampaignUpdateInput, request.data))
        campaign = services.campaign_update(campaign=self._discount_campaign(), **data)
        return self._answer(campaign)

    @extend_schema(
        tags=["campaigns"],
        summary="Delete a campaign (seed: DELETE /campaigns/coupon/:id); one with redemptions is archived",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.campaign_delete(campaign=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["campaigns"],
        summary="Switch a campaign on or off (seed: PATCH /campaigns/discount-coupon/:id/status)",
        request=s.CampaignStatusInput,
        responses={200: s.CampaignOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["patch"], url_path="status")
    def status(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.CampaignStatusInput, request.data)
        return self._answer(services.campaign_status_set(campaign=self.get_object(), status=data["status"]))


@extend_schema_view(
    list=extend_schema(
        tags=["campaigns"], summary="Discount and free-shipping campaigns",
        responses={200: s.CampaignOutput(many=True), **error_responses(400, 401, 403)},
    ),
)  # fmt: skip
class DiscountCampaignViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = campaign_queryset().filter(kind__in=[CampaignKind.DISCOUNT_COUPON, CampaignKind.FREE_SHIPPING])
    serializer_class = s.CampaignOutput
    permission_classes = [IsAdminOrModelPermission]
    filterset_class = CampaignFilter

    @extend_schema(
        tags=["campaigns"],
        summary="Create a discount or free-shipping campaign (seed: POST /campaigns/discount-coupon/create)",
        request=s.CampaignCreateInput,
        examples=examples.CAMPAIGN_CREATE,
        responses={201: s.CampaignOutput, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        data = dict(validated(s.CampaignCreateInput, request.data))
        campaign = services.campaign_create(created_by=request.user if request.user.is_authenticated else None, **data)
        return Response(s.CampaignOutput(campaign_queryset().get(pk=campaign.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["campaigns"],
        summary="Discount and free-shipping campaigns live now (seed: GET /campaigns/discount-coupon/active)",
        responses={200: s.CampaignOutput(many=True), **error_responses(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], filterset_class=None)
    def active(self, request: Request) -> Response:
        page = self.paginate_queryset(
            self.get_queryset().filter(pk__in=Campaign.objects.active(timezone.now()).values("pk"))
        )
        return self.get_paginated_response(s.CampaignOutput(page, many=True).data)


# --- Cart, redemptions -------------------------------------------------------------------------


class IsIntegrationOrCustomer(BasePermission):
    """The e-commerce integration, an ADMIN, or a signed-in customer evaluating their own cart."""

    message = "Send the integration's Api-Key or a customer's bearer token."

    def has_permission(self, request, view) -> bool:
        return is_integration(request) or bool(request.user and request.user.is_authenticated)


def _cart_request(
    data: dict[str, Any], customer: User | None, known: bool, order_id: str = "", *, redeem: bool = False
) -> CartRequest:
    return CartRequest(
        lines=[dict(line) for line in data["lines"]],
        at=pinned_at(data.get("at"), redeem=redeem),
        customer=customer,
        customer_known=known,
        codes=list(data.get("codes", [])),
        shipping=data["shipping"],
        currency=data["currency"],
        location=dict(data.get("location", {})),
        order_id=order_id,
        use_points=PointsRequest(**data["use_points"]) if data.get("use_points") else None,
    )


class CartView(APIView):
    authentication_classes = [ApiKeyAuthentication, JWTAuthentication]
    permission_classes = [IsIntegrationOrCustomer]
    # A customer's token has its own rate; keys and ADMINs the integration's.
    throttle_classes = [CartIntegrationRateThrottle, CartCustomerRateThrottle]


class CartEvaluateView(CartView):
    @extend_schema(
        tags=["cart"],
        summary="What applies to a cart, what does not and why, and what would unlock more",
        request=s.CartEvaluateInput,
        examples=examples.CART_EVALUATE,
        responses={200: s.CartEvaluateOutput, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated_hot(s.CartEvaluateInput, request.data)
        customer, known = customer_for(acting=acting_customer(request), ref=data.get("customer"), create=False)
        budget = UnknownCodeBudget(request, customer=customer, ref=data.get("customer"))
        budget.reserve(data.get("codes", []))
        try:
            versions = getattr(request, "evaluation_versions", None)  # read by the throttle's round trip
            evaluation = cart_evaluate(_cart_request(data, customer, known), versions=versions)
        except Exception:
            budget.settle(0)  # no answer about the codes was given
            raise
        budget.settle(unknown_codes(evaluation.result.rejected))
        refusals_count(evaluation.result.rejected, at=timezone.now())
        return Response(result_json(evaluation.result, evaluation.points))


class RedemptionCreateView(CartView):
    permission_classes = [IsIntegrationOrAdmin]

    @extend_schema(
        tags=["cart"],
        summary="Redeem a checkout's campaigns for an order: consume codes, uses and budgets at once (idempotent on order_id)",
        request=s.RedemptionInput,
        examples=examples.REDEMPTION,
        responses={201: s.RedemptionOutput, 200: s.RedemptionOutput, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RedemptionInput, request.data)
        with transaction.atomic():  # a refused redemption leaves no customer behind either
            customer, known = customer_for(acting=acting_customer(request), ref=data["customer"], create=True)
            budget = UnknownCodeBudget(request, customer=customer, ref=data["customer"])
            budget.reserve(data.get("codes", []))
            try:
                outcome = redemption_create(
                    order_id=data["order_id"],
                    customer=customer,
                    request=_cart_request(data, customer, known, order_id=data["order_id"], redeem=True),
                    body=data,
                    expected_total_discount=data.get("expected_total_discount"),
                )
            except Conflict as refused:
                # Refused for another customer's code: an answer about the codes, paid in full.
                budget.settle(budget.amount if refused.code == "code_not_yours" else 0)
                raise
            except Exception:
                budget.settle(0)  # no answer about the codes was given
                raise
            # A replay repeats an answer already paid for.
            budget.settle(unknown_codes(outcome.order_redemption.response["rejected"]) if outcome.created else 0)
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(outcome.order_redemption.response, status=code)


class RedemptionDetailView(CartView):
    permission_classes = [IsIntegrationOrAdmin]

    @extend_schema(
        tags=["cart"],
        summary="An order's redemption, as first answered (status updated on void)",
        responses={200: s.RedemptionOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, order_id: str) -> Response:
        found = OrderRedemption.objects.filter(order_id=order_id).first()
        if found is None:
            raise NotFound("redemption_not_found", f"No redemption for order {order_id}.")
        return Response(found.response)


class RedemptionVoidView(CartView):
    permission_classes = [IsIntegrationOrAdmin]

    @extend_schema(
        tags=["cart"],
        summary="Void an order's redemption (cancelled or refunded order): give back codes, uses and budget",
        request=s.RedemptionVoidInput,
        responses={200: s.RedemptionOutput, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, order_id: str) -> Response:
        data = validated(s.RedemptionVoidInput, request.data)
        voided = redemption_void(order_id=order_id, reason=data["reason"] or "voided by the platform")
        return Response(voided.response)
