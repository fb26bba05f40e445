"""Customers' own codes and offers over HTTP.

    POST campaigns/{id}/codes/assign   give each customer listed, or each member of a segment, one
                                       free unique code of the campaign (ADMIN)
    GET  me/offers                     the campaigns the caller may use now, with the code to show

``urlpatterns`` is included under /api/v1/; the trailing slash is optional.
"""

import dataclasses
from typing import Any

from django.urls import re_path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import JWTAuthentication
from campaigns.api.serializers import MONEY
from campaigns.api.throttling import CartCustomerRateThrottle, CartIntegrationRateThrottle
from campaigns.api.views import IsIntegrationOrCustomer
from campaigns.engine import types as t
from campaigns.engine.rules import offer_summary
from campaigns.models import Campaign, CampaignKind, CouponCode
from campaigns.selectors import customer_offers
from campaigns.services.campaigns import invalid
from campaigns.services.code_assignment import CodeAssignment, codes_assign, codes_assign_segment
from commerce.authentication import ApiKeyAuthentication, acting_customer
from commerce.services.customers import customer_for
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.serializers import StrictInput
from lms.api.validation import validated
from lms.errors import NotFound
from segments.models import Segment

MAX_ASSIGN_IDS = 10_000  # a bigger audience is a segment
DB_BIGINT = 2**63 - 1

# --- Assigning codes ---------------------------------------------------------------------------


class CodeAssignInput(StrictInput):
    segment_id = serializers.IntegerField(
        min_value=1, max_value=DB_BIGINT, required=False, help_text="Every member of this customer segment."
    )
    customer_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_BIGINT),
        min_length=1,
        max_length=MAX_ASSIGN_IDS,
        required=False,
        help_text=f"These customers (at most {MAX_ASSIGN_IDS:,}; a bigger audience is a segment).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("segment_id" in attrs) == ("customer_ids" in attrs):
            message = "Send exactly one of segment_id and customer_ids."
            raise serializers.ValidationError({"segment_id": [message], "customer_ids": [message]})
        return attrs


class CodeAssignmentOutput(serializers.Serializer):
    assigned = serializers.IntegerField(help_text="Customers given a code now.")
    already_held = serializers.IntegerField(help_text="Customers who already held one of the campaign's codes.")
    short = serializers.IntegerField(
        help_text="Customers left without a code: no free code was left. Add codes and run it again."
    )


class CanAssignCodes(IsAdminOrModelPermission):
    """ADMIN, or staff who may change coupon codes (giving one out changes it)."""

    perms_map = {**IsAdminOrModelPermission.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


def discount_campaign_or_404(pk: int) -> Campaign:
    """The discount or free-shipping campaign ``pk``; a loyalty program has no coupon codes."""
    campaign = Campaign.objects.filter(pk=pk).first()
    if campaign is None:
        raise NotFound("not_found", f"No discount campaign with id {pk}.")
    if campaign.kind == CampaignKind.LOYALTY_PROGRAM:
        raise NotFound("not_a_discount_campaign", "This is a loyalty program; it has no coupon codes.")
    return campaign


class CampaignCodesAssignView(GenericAPIView):
    queryset = CouponCode.objects.none()  # the model whose permissions staff need
    permission_classes = [CanAssignCodes]
    serializer_class = CodeAssignInput

    @extend_schema(
        tags=["campaigns"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The campaign's id.")],
        summary="Give customers their own unique codes: one free code each, to a list or a segment",
        description=(
            "Each customer without one of the campaign's codes gets one unused code never given before; from "
            "then on only they can use it (anybody else is answered `code_not_yours`). Idempotent: customers "
            "who hold one are counted `already_held`. When the free codes run out the rest are counted "
            "`short` (generate or import more, then run it again). 409 unless the campaign is redeemed with a "
            "coupon code, has code_type UNIQUE and is not archived."
        ),
        request=CodeAssignInput,
        responses={200: CodeAssignmentOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = validated(CodeAssignInput, request.data)
        campaign = discount_campaign_or_404(pk)
        result: CodeAssignment
        if "segment_id" in data:
            segment = Segment.objects.filter(pk=data["segment_id"]).first()
            if segment is None:
                raise invalid("segment_id", f"No segment with id {data['segment_id']}.")
            result = codes_assign_segment(campaign=campaign, segment=segment)
        else:
            result = codes_assign(campaign=campaign, customer_ids=data["customer_ids"])
        return Response(CodeAssignmentOutput(dataclasses.asdict(result)).data)


# --- Offers ------------------------------------------------------------------------------------


class OffersQuery(serializers.Serializer):
    customer = serializers.CharField(max_length=64, required=False, allow_blank=False)


class OfferContentOutput(serializers.Serializer):
    title = serializers.CharField()
    body = serializers.CharField()
    image_url = serializers.CharField()
    cta_text = serializers.CharField()
    cta_url = serializers.CharField()


class OfferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CampaignKind.choices, help_text="DISCOUNT_COUPON or FREE_SHIPPING.")
    redemption_type = serializers.CharField(help_text="AUTOMATIC (applies by itself) or COUPON_CODE.")
    description = serializers.CharField()
    code = serializers.CharField(
        allow_null=True, help_text="The code to type: the shared code, the caller's own code, or null (automatic)."
    )
    summary = serializers.CharField(help_text='The offer in a line, such as "10% off on orders of ₹500.00 or more".')
    currency = serializers.CharField()
    min_cart_value = serializers.DecimalField(**MONEY, allow_null=True)
    max_discount = serializers.DecimalField(**MONEY, allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    content = OfferContentOutput(help_text="The campaign's message: title, body, banner image, call to action.")


def offer_json(offer: t.Offer, row: Campaign) -> dict[str, Any]:
    campaign = offer.campaign
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "redemption_type": campaign.redemption_type,
        "description": row.description,
        "code": offer.code or None,
        "summary": offer_summary(
            campaign.rules,
            currency=campaign.currency,
            min_cart_value=campaign.min_cart_value,
            max_discount=campaign.max_discount,
        ),
        "currency": campaign.currency,
        "min_cart_value": campaign.min_cart_value,
        "max_discount": campaign.max_discount,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "content": {
            "title": row.notify_title,
            "body": row.notify_body,
            "image_url": row.notify_image_url,
            "cta_text": row.notify_cta_text,
            "cta_url": row.notify_cta_url,
        },
    }


CONTENT_FIELDS = ("description", "notify_title", "notify_body", "notify_image_url", "notify_cta_text", "notify_cta_url")


class MyOffersView(GenericAPIView):
    queryset = Campaign.objects.none()  # offers come from the engine (customer_offers), not a queryset
    authentication_classes = [ApiKeyAuthentication, JWTAuthentication]
    permission_classes = [IsIntegrationOrCustomer]
    # The cart routes' rates: a customer's token its own, keys and ADMINs the integration's.
    throttle_classes = [CartIntegrationRateThrottle, CartCustomerRateThrottle]
    serializer_class = OfferOutput

    @extend_schema(
        tags=["cart"],
        summary="Offers for you: the automatic and coupon campaigns the customer may use now, with the code to show",
        description=(
            "Judged by the cart engine's own checks at this moment: switched on, started and not ended, the "
            "campaign's weekdays and hours (in its time zone), geography (the customer's profile), audience "
            "(new/existing, segments), usage limit, the customer's own limits and the budget. A coupon campaign "
            "is offered with its shared code, or with the caller's own unused unique code (a unique-codes "
            "campaign without one is not offered). The minimum cart value and the rules are shown, not judged. "
            "Loyalty programs are not offers (see /loyalty/me). A customer's token answers for themselves; an "
            "API key or an ADMIN names the customer with `?customer=<external_id>`, or gets a guest's offers "
            "without it."
        ),
        parameters=[
            OpenApiParameter(
                "customer", str, description="API key or ADMIN: the customer's external_id (none: a guest)."
            ),
        ],
        responses={200: OfferOutput(many=True), **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def get(self, request: Request) -> Response:
        query = validated(OffersQuery, request.query_params)
        ref = {"external_id": query["customer"]} if "customer" in query else None
        customer, known = customer_for(acting=acting_customer(request), ref=ref, create=False)
        if customer is None and known:
            raise NotFound(
                "customer_not_found", f"No customer with external_id {query['customer']!r}.", path="customer"
            )
        offers = customer_offers(customer=customer, at=timezone.now())
        page = self.paginate_queryset(list(offers))
        rows = Campaign.objects.only(*CONTENT_FIELDS).in_bulk([offer.campaign.id for offer in page])
        results = [offer_json(offer, rows[offer.campaign.id]) for offer in page if offer.campaign.id in rows]
        return self.get_paginated_response(OfferOutput(results, many=True).data)


urlpatterns = [
    re_path(r"^campaigns/(?P<pk>\d+)/codes/assign/?$", CampaignCodesAssignView.as_view(), name="campaign-codes-assign"),
    re_path(r"^me/offers/?$", MyOffersView.as_view(), name="me-offers"),
]
