"""Sending a unique-codes campaign's codes to a segment over HTTP.

    POST campaigns/{id}/codes/distribute   give each member of a segment one free unique code,
                                           then send each their own code in the campaign's
                                           notification (ADMIN)

``urlpatterns`` is included under /api/v1/; the trailing slash is optional.
"""

import dataclasses

from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.api.offers import DB_BIGINT, CanAssignCodes, CodeAssignmentOutput, discount_campaign_or_404
from campaigns.models import CouponCode
from campaigns.services.announcements import campaign_codes_distribute
from campaigns.services.campaigns import invalid
from lms.api.schema import error_responses
from lms.api.serializers import StrictInput
from lms.api.validation import validated
from segments.models import Segment


class CodeDistributeInput(StrictInput):
    segment_id = serializers.IntegerField(min_value=1, max_value=DB_BIGINT, help_text="A customer segment.")


class CodeDistributionOutput(CodeAssignmentOutput):
    message_id = serializers.IntegerField(
        help_text="The notification carrying the codes: members holding a code not sent it before."
    )


class CampaignCodesDistributeView(GenericAPIView):
    queryset = CouponCode.objects.none()  # the model whose permissions staff need
    permission_classes = [CanAssignCodes]
    serializer_class = CodeDistributeInput

    @extend_schema(
        tags=["campaigns"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The campaign's id.")],
        summary="Send each member of a segment their own unique code",
        description=(
            "Gives each member without one of the campaign's codes one free code (as `codes/assign`), then "
            "sends one notification on the campaign's channels with its content, `{{ code }}` being each "
            "recipient's own code, to the members holding a code who were not sent it by an earlier call. "
            "409 when the campaign is off, archived, ended, has no unique codes, or has no notification content and "
            "channels it could send (nothing is given out then)."
        ),
        request=CodeDistributeInput,
        responses={200: CodeDistributionOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = validated(CodeDistributeInput, request.data)
        campaign = discount_campaign_or_404(pk)
        segment = Segment.objects.filter(pk=data["segment_id"]).first()
        if segment is None:
            raise invalid("segment_id", f"No segment with id {data['segment_id']}.")
        sent = campaign_codes_distribute(campaign=campaign, segment=segment)
        body = {**dataclasses.asdict(sent.assignment), "message_id": sent.message.pk}
        return Response(CodeDistributionOutput(body).data)


urlpatterns = [
    re_path(
        r"^campaigns/(?P<pk>\d+)/codes/distribute/?$",
        CampaignCodesDistributeView.as_view(),
        name="campaign-codes-distribute",
    ),
]
