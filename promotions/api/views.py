"""Promotions over HTTP: CRUD, send now or at a time, cancel; the customer's feed."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.validation import validated
from promotions import services
from promotions.api import examples
from promotions.api import serializers as s
from promotions.models import Promotion, PromotionAudience, PromotionStatus
from promotions.selectors import feed_items, promotion_feed, with_delivery_counts


def promotion_queryset():
    """Promotions with what the output shows; delivery counts come per page (one query)."""
    return (
        Promotion.objects.select_related("campaign", "message")
        .prefetch_related("segments")
        .order_by("-created_at", "-id")
    )


class PromotionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=PromotionStatus.choices)
    audience = filters.ChoiceFilter(choices=PromotionAudience.choices)
    archived = filters.BooleanFilter(help_text="Archived (deleted after sending) promotions are left out unless asked.")
    search = filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Promotion
        fields = ["status", "audience", "archived"]

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("archived") is None:
            queryset = queryset.filter(archived=False)
        return super().filter_queryset(queryset)


@extend_schema_view(
    list=extend_schema(
        tags=["promotions"], summary="Promotions (seed: GET /promotion/get)",
        responses={200: s.PromotionOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=["promotions"], summary="One promotion, with its deliveries per status",
        responses={200: s.PromotionOutput, **error_responses(401, 403, 404)},
    ),
)  # fmt: skip
class PromotionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = promotion_queryset()
    serializer_class = s.PromotionOutput
    permission_classes = [IsAdminOrModelPermission]
    filterset_class = PromotionFilter
    lookup_value_regex = r"\d+"

    def filter_queryset(self, queryset):
        # The list's filters (?status=...) are not meant for one promotion's routes.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.PromotionOutput(with_delivery_counts(page), many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(self.get_object().pk)

    def _answer(self, promotion_id: int, code: int = status.HTTP_200_OK) -> Response:
        promotion = with_delivery_counts([promotion_queryset().get(pk=promotion_id)])[0]
        return Response(s.PromotionOutput(promotion).data, status=code)

    @extend_schema(
        tags=["promotions"],
        summary="Create a promotion, as a DRAFT (seed: POST /promotion)",
        request=s.PromotionCreateInput,
        examples=examples.PROMOTION_CREATE,
        responses={201: s.PromotionOutput, **error_responses(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        data = validated(s.PromotionCreateInput, request.data)
        promotion = services.promotion_create(created_by=request.user, **data)
        return self._answer(promotion.pk, status.HTTP_201_CREATED)

    @extend_schema(
        tags=["promotions"],
        summary="Change a DRAFT or SCHEDULED promotion (409 once sent or cancelled)",
        request=s.PromotionUpdateInput,
        responses={200: s.PromotionOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.PromotionUpdateInput, request.data)
        promotion = services.promotion_update(promotion_id=self.get_object().pk, **data)
        return self._answer(promotion.pk)

    @extend_schema(
        tags=["promotions"],
        summary="Delete a promotion (seed: DELETE /promotion/delete/:id); a sent one is archived, its deliveries kept",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.promotion_delete(promotion_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=["promotions"],
        summary="Send now, or at send_at (scheduled; the beat sends it within a minute of that time)",
        request=s.PromotionSendInput,
        responses={200: s.PromotionOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        data = validated(s.PromotionSendInput, request.data or {})
        promotion_id = self.get_object().pk
        if data.get("send_at") is not None:
            services.promotion_schedule(promotion_id=promotion_id, send_at=data["send_at"])
        else:
            services.promotion_send(promotion_id=promotion_id)
        return self._answer(promotion_id)

    @extend_schema(
        tags=["promotions"],
        summary="Cancel a DRAFT or SCHEDULED promotion before it goes (409 once sent)",
        request=None,
        responses={200: s.PromotionOutput, **error_responses(401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        promotion_id = self.get_object().pk
        services.promotion_cancel(promotion_id=promotion_id)
        return self._answer(promotion_id)

    @extend_schema(
        tags=["promotions"],
        summary="The caller's feed: live promotions whose audience includes them, newest first",
        responses={200: s.PromotionFeedOutput(many=True), **error_responses(400, 401)},
    )
    @action(detail=False, methods=["get"], permission_classes=[IsAuthenticated], filterset_class=None)
    def feed(self, request: Request) -> Response:
        page = self.paginate_queryset(promotion_feed(user=request.user, at=timezone.now()))
        return self.get_paginated_response(s.PromotionFeedOutput(feed_items(page, user=request.user), many=True).data)
