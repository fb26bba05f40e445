"""Segments over HTTP: CRUD, members (list, CSV, static upload), preview, refresh, catalogue."""

from django.http import StreamingHttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from lms.api.csv import csv_response
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.validation import validated
from lms.db_router import replica_iter
from lms.outbox import outbox_enqueue
from segments import services
from segments.api import examples
from segments.api import serializers as s
from segments.criteria import PRODUCT, USER, catalogue
from segments.models import Segment
from segments.selectors import member_sample, segment_members, segment_preview

OPERATORS = {
    "eq": "equals",
    "ne": "does not equal",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "between": "between [low, high], inclusive",
    "in": "one of a list",
    "not_in": "none of a list",
    "is": "is true / false",
    "before": "before a date (YYYY-MM-DD)",
    "after": "after a date",
    "any_of": "any of these ids",
    "none_of": "none of these ids",
}


class SegmentFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Segment.Kind.choices)
    type = filters.ChoiceFilter(choices=Segment.Type.choices)
    status = filters.ChoiceFilter(choices=Segment.Status.choices)
    search = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Segment
        fields = ["kind", "type", "status"]


@extend_schema_view(
    list=extend_schema(
        tags=["segments"], summary="Segments (seed: GET /segment/get)",
        responses={200: s.SegmentOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=["segments"], summary="One segment, with a sample of members (seed: GET /segment/:id)",
        responses={200: s.SegmentDetailOutput, **error_responses(401, 403, 404)},
    ),
)  # fmt: skip
class SegmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Segment.objects.order_by("-created_at", "-id")
    serializer_class = s.SegmentOutput
    permission_classes = [IsAdminOrModelPermission]
    filterset_class = SegmentFilter
    lookup_value_regex = r"\d+"

    def filter_queryset(self, queryset):
        # The list's filters (?status=...) are not meant for one segment's routes.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        return s.SegmentDetailOutput if self.action == "retrieve" else s.SegmentOutput

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        segment = self.get_object()
        segment.sample = member_sample(segment.kind, segment_members(segment))
        return Response(s.SegmentDetailOutput(segment).data)

    @extend_schema(
        tags=["segments"],
        summary="Create a segment (seed: POST /segment/create): dynamic with criteria, or static with members",
        request=s.SegmentCreateInput,
        examples=examples.SEGMENT_CREATE,
        responses={201: s.SegmentCreateOutput, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        data = validated(s.SegmentCreateInput, request.data)
        segment = services.segment_create(created_by=request.user if request.user.is_authenticated else None, **data)
        unknown = segment.unknown_members
        segment.refresh_from_db()
        segment.unknown_members = unknown
        return Response(s.SegmentCreateOutput(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["segments"],
        summary="Change name, description or criteria (new criteria are refreshed)",
        request=s.SegmentUpdateInput,
        responses={200: s.SegmentOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.SegmentUpdateInput, request.data)
        segment = services.segment_update(segment=self.get_object(), **data)
        segment.refresh_from_db()
        return Response(s.SegmentOutput(segment).data)

    @extend_schema(
        tags=["segments"],
        summary="Delete a segment (seed: DELETE /segment/:id); 409 while something targets it",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.segment_delete(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["segments"],
        summary="The members as of the last refresh",
        responses={200: s.MemberOutput(many=True), **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get"], url_path="members")
    def members(self, request: Request, pk: str | None = None) -> Response:
        segment = self.get_object()
        fields = (
            ("id", "sku", "name")
            if segment.kind == PRODUCT
            else ("id", "email", "external_id", "first_name", "last_name")
        )
        page = self.paginate_queryset(segment_members(segment).values(*fields))
        return self.get_paginated_response(page)

    @extend_schema(
        tags=["segments"],
        summary="A static segment's members become exactly this list",
        request=s.MembersReplaceInput,
        responses={200: s.MembersReplaceOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    @members.mapping.put
    def members_replace(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.MembersReplaceInput, request.data)
        result = services.segment_members_replace(segment=self.get_object(), members=data["members"])
        return Response({"member_count": result.segment.member_count, "unknown": result.unknown})

    @extend_schema(
        tags=["segments"],
        summary="The members as CSV (streamed)",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["get"], url_path="members/export")
    def members_export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        segment = self.get_object()
        fields = (
            ("id", "sku", "name")
            if segment.kind == PRODUCT
            else ("id", "email", "external_id", "first_name", "last_name")
        )
        rows = replica_iter(segment_members(segment).values_list(*fields).iterator(chunk_size=2000))
        return csv_response(fields, rows, filename=f"segment-{segment.pk}-members.csv")

    @extend_schema(
        tags=["segments"],
        summary="Recompute the membership now (in the background)",
        request=None,
        responses={202: s.SegmentRefreshOutput, **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        segment = self.get_object()
        outbox_enqueue("segments.tasks.segment_refresh_task", segment.pk)
        return Response({"status": "refresh queued"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        tags=["segments"],
        summary="Count and sample who the criteria select now, without saving",
        request=s.PreviewInput,
        responses={200: s.PreviewOutput, **error_responses(400, 401, 403)},
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        data = validated(s.PreviewInput, request.data)
        criteria = services.criteria_check(kind=data["kind"], criteria=data["criteria"])
        return Response(segment_preview(data["kind"], criteria))

    @extend_schema(
        tags=["segments"],
        summary="The criteria catalogue: fields, operators, value types, units and windows per kind",
        responses={200: s.CriteriaCatalogueOutput, **error_responses(401, 403)},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def criteria(self, request: Request) -> Response:
        return Response(
            {
                USER: [field.describe() for field in catalogue(USER)],
                PRODUCT: [field.describe() for field in catalogue(PRODUCT)],
                "operators": OPERATORS,
            }
        )
