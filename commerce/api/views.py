"""The integration API: thin views over commerce services."""

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import JWTAuthentication
from accounts.models import normalize_email
from commerce.api import examples
from commerce.api import serializers as s
from commerce.api.batch import ingest_items
from commerce.authentication import ApiKeyAuthentication, IntegrationRateThrottle, IsIntegrationOrAdmin
from commerce.models import Order, OrderStatus, OrderStatusChange, Product
from commerce.selectors import brands_named, categories_named, category_ids_below
from commerce.services import MAX_BATCH, ItemResult, summarize
from commerce.services.catalogue import products_upsert
from commerce.services.customers import customers_upsert
from commerce.services.events import events_ingest
from commerce.services.orders import order_ingest, order_status_change, orders_ingest
from lms.api.schema import error_responses
from lms.errors import Invalid

REPLAY_HEADER = "Idempotent-Replayed"


class IntegrationView:
    authentication_classes = [ApiKeyAuthentication, JWTAuthentication]
    permission_classes = [IsIntegrationOrAdmin]
    throttle_classes = [IntegrationRateThrottle]


def run_batch(
    body: Any,
    field: str,
    item_input: type[serializers.Serializer],
    service: Callable[..., list[ItemResult]],
) -> Response:
    """Check a bulk body's shape, then validate and store its items one by one."""
    raw = body.get(field) if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise ValidationError({field: [f"Expected a list of {field}."]})
    if not raw:
        raise ValidationError({field: ["The list is empty."]})
    if len(raw) > MAX_BATCH:
        raise Invalid("batch_too_large", f"At most {MAX_BATCH} {field} per call; got {len(raw)}.", limit=MAX_BATCH)
    return Response(summarize(ingest_items(raw, item_input, service)))


BULK_RESPONSES = {200: s.BulkResultOutput, **error_responses(400, 401, 403)}


class ProductFilter(filters.FilterSet):
    sku = filters.BaseInFilter(field_name="sku", help_text="One sku or several, comma-separated.")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Name contains.")
    category = filters.CharFilter(
        method="filter_category",
        help_text="A category id, name or path from the root (`Electronics > Phones`), with every category below it.",
    )
    brand = filters.CharFilter(method="filter_brand", help_text="A brand id or name.")
    active = filters.BooleanFilter()
    price_min = filters.NumberFilter(field_name="price", lookup_expr="gte")
    price_max = filters.NumberFilter(field_name="price", lookup_expr="lte")
    stock_below = filters.NumberFilter(field_name="stock_quantity", lookup_expr="lt")
    stock_above = filters.NumberFilter(field_name="stock_quantity", lookup_expr="gt")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Product
        fields = ["sku", "q", "category", "brand", "active"]

    def filter_category(self, queryset, name: str, value: str):
        return queryset.filter(category_id__in=category_ids_below(categories_named(value)))

    def filter_brand(self, queryset, name: str, value: str):
        return queryset.filter(brand_id__in=brands_named(value))


@extend_schema_view(
    list=extend_schema(tags=["commerce"], summary="Products", responses={200: s.ProductOutput(many=True), **error_responses(400, 401, 403)}),
    retrieve=extend_schema(tags=["commerce"], summary="One product by sku", responses={200: s.ProductOutput, **error_responses(401, 403, 404)}),
)  # fmt: skip
class ProductViewSet(IntegrationView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Product.objects.select_related("category", "brand").order_by("sku")
    serializer_class = s.ProductOutput
    filterset_class = ProductFilter
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"


class ProductsBulkView(IntegrationView, APIView):
    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_products_bulk",
        summary=f"Upsert up to {MAX_BATCH} products by sku; categories and brands by name, path or id",
        request=s.ProductsBulkInput,
        examples=examples.PRODUCTS_BULK,
        responses=BULK_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return run_batch(request.data, "products", s.ProductInput, products_upsert)


class CustomersBulkView(IntegrationView, APIView):
    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_customers_bulk",
        summary=f"Upsert up to {MAX_BATCH} customers by external_id, else email",
        request=s.CustomersBulkInput,
        examples=examples.CUSTOMERS_BULK,
        responses=BULK_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return run_batch(request.data, "customers", s.CustomerInput, customers_upsert)


class OrderFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=OrderStatus.choices)
    customer_external_id = filters.CharFilter(field_name="customer__external_id")
    customer_email = filters.CharFilter(method="filter_customer_email")
    placed_after = filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    has_unknown_skus = filters.BooleanFilter()

    class Meta:
        model = Order
        fields = ["status", "has_unknown_skus"]

    def filter_customer_email(self, queryset, name, value):
        return queryset.filter(customer__email=normalize_email(value))  # exact: uses the unique index


def _order_queryset():
    return Order.objects.select_related("customer").prefetch_related(
        "lines", Prefetch("status_changes", queryset=OrderStatusChange.objects.order_by("id"))
    )


def _order_body(order: Order) -> dict:
    """The stored order with its unknown-sku warnings, derived from the stored lines so a
    replay answers exactly what the first ingest did."""
    order = _order_queryset().get(pk=order.pk)
    order.warnings = [
        {"code": "unknown_sku", "path": f"lines[{n}].sku", "message": f"Unknown sku {line.sku!r}."}
        for n, line in enumerate(order.lines.all())
        if line.unknown_sku
    ]
    return s.OrderIngestOutput(order).data


@extend_schema_view(
    list=extend_schema(tags=["commerce"], summary="Orders", responses={200: s.OrderOutput(many=True), **error_responses(400, 401, 403)}),
    retrieve=extend_schema(tags=["commerce"], summary="One order by external_id", responses={200: s.OrderOutput, **error_responses(401, 403, 404)}),
)  # fmt: skip
class OrderViewSet(IntegrationView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = _order_queryset().order_by("-placed_at", "-id")
    serializer_class = s.OrderOutput
    filterset_class = OrderFilter
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_orders_ingest",
        summary="Ingest one order; idempotent on external_id",
        description=(
            "201 with the stored order. A retry with the same body answers the same (with the header "
            f"`{REPLAY_HEADER}: true`); the same external_id with a different body is 409 `order_conflict`. "
            "A line with an unknown sku is stored with its captured data and flagged in `warnings`."
        ),
        request=s.OrderInput,
        examples=examples.ORDER,
        responses={201: s.OrderIngestOutput, **error_responses(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        serializer = s.OrderInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = order_ingest(data=serializer.validated_data)
        headers = {REPLAY_HEADER: "true"} if result.outcome == "replayed" else {}
        return Response(_order_body(result.obj), status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_order_status",
        summary="Change an order's status: pay, fulfil, cancel, refund (whole or some lines)",
        description=(
            "`{status: REFUNDED}` refunds what is left; with `refund_lines` only those quantities (the order "
            "becomes REFUNDED once nothing is left). A retry with the same `change_id`, or a move to the status the "
            f"order already has, writes nothing (header `{REPLAY_HEADER}: true`)."
        ),
        request=s.OrderStatusInput,
        responses={200: s.OrderOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, external_id: str) -> Response:
        serializer = s.OrderStatusInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = order_status_change(
            external_id=external_id,
            status=data["status"],
            refund_lines=data.get("refund_lines"),
            change_id=data["change_id"],
            reason=data["reason"],
            occurred_at=data.get("occurred_at"),
        )
        headers = {REPLAY_HEADER: "true"} if result.replayed else {}
        return Response(s.OrderOutput(_order_queryset().get(pk=result.order.pk)).data, headers=headers)


class OrdersBulkView(IntegrationView, APIView):
    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_orders_bulk",
        summary=f"Ingest up to {MAX_BATCH} orders (back-fill); per-item results",
        request=s.OrdersBulkInput,
        responses=BULK_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return run_batch(request.data, "orders", s.OrderInput, orders_ingest)


class EventsView(IntegrationView, APIView):
    @extend_schema(
        tags=["commerce"],
        operation_id="commerce_events_ingest",
        summary=f"Record interaction events: one event object, or {{events: [...]}} with up to {MAX_BATCH}",
        request=PolymorphicProxySerializer(
            component_name="EventsIngestInput",
            serializers=[s.EventInput, s.EventsBulkInput],
            resource_type_field_name=None,
        ),
        responses=BULK_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if isinstance(body, dict) and "events" not in body:
            body = {"events": [body]}  # a single event is a batch of one
        return run_batch(body, "events", s.EventInput, events_ingest)
