"""Notifications over HTTP: the caller's inbox, preferences and push devices; for
administrators, deliveries, messages with their counts, a test send and retrying failures."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lms.api.schema import error_responses
from lms.api.validation import validated
from notifications.api import serializers as s
from notifications.api.pagination import InboxPagination
from notifications.api.permissions import CanRetryDeliveries, CanTestSend, CanViewDeliveries, CanViewMessages
from notifications.content import Content
from notifications.models import Channel, Delivery, DeliveryStatus, Message, MessageStatus, Purpose
from notifications.selectors import message_channel_counts, message_counts
from notifications.services import inbox, preferences
from notifications.services.dispatch import deliveries_retry, notification_test_send

TAGS = ["notifications"]
ADMIN_TAGS = ["notifications (admin)"]


# --- The caller's inbox ----------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        tags=TAGS,
        summary="My in-app notifications, newest first, with unread_count (seed: GET /notifications)",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="true: unread only; false: read only.")],
        responses={200: s.InboxItemOutput(many=True), **error_responses(400, 401)},
    )
)
class InboxView(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = s.InboxItemOutput
    pagination_class = InboxPagination
    filter_backends: list = []

    def get_queryset(self):
        query = validated(s.InboxQuery, self.request.query_params)
        return inbox.inbox_items(user_id=self.request.user.pk, unread=query["unread"])

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.paginator.unread_count = inbox.inbox_unread_count(user_id=request.user.pk)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class InboxReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Mark one of my notifications read (idempotent; another person's is a 404)",
        request=None,
        responses={200: s.InboxItemOutput, **error_responses(401, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        item = inbox.inbox_item_read(user_id=request.user.pk, delivery_id=pk)
        return Response(s.InboxItemOutput(item).data)


class InboxReadAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Mark all my notifications read",
        request=None,
        responses={200: s.ReadAllOutput, **error_responses(401)},
    )
    def post(self, request: Request) -> Response:
        return Response({"updated": inbox.inbox_read_all(user_id=request.user.pk)})


class PreferencesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        operation_id="notification_preferences_retrieve",
        summary="My notification settings: marketing consents, in-app, time zone, quiet hours",
        responses={200: s.PreferencesOutput, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(s.PreferencesOutput(preferences.preferences_of(user=request.user)).data)

    @extend_schema(
        tags=TAGS,
        operation_id="notification_preferences_update",
        summary="Change some of my notification settings",
        request=s.PreferencesUpdateInput,
        responses={200: s.PreferencesOutput, **error_responses(400, 401)},
    )
    def patch(self, request: Request) -> Response:
        data = dict(validated(s.PreferencesUpdateInput, request.data))
        if "timezone" in data:
            data["timezone_name"] = data.pop("timezone")
        return Response(s.PreferencesOutput(preferences.preferences_update(user=request.user, **data)).data)


class DevicesView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Register this device for push (idempotent on the token; a token of another account moves to me)",
        request=s.PushDeviceInput,
        responses={200: s.PushDeviceOutput, 201: s.PushDeviceOutput, **error_responses(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.PushDeviceInput, request.data)
        device, created = preferences.push_device_register(user=request.user, **data)
        return Response(s.PushDeviceOutput(device).data, status=status.HTTP_201_CREATED if created else 200)


class DeviceDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Forget one of my push devices, by its id or its token",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, device: str) -> Response:
        preferences.push_device_remove(user=request.user, device=device)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Administration --------------------------------------------------------------------------


class DeliveryFilter(filters.FilterSet):
    source_type = filters.CharFilter(field_name="message__source_type")
    source_id = filters.CharFilter(field_name="message__source_id")
    message = filters.NumberFilter(field_name="message_id")
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    channel = filters.ChoiceFilter(choices=Channel.choices)
    recipient = filters.CharFilter(method="filter_recipient", help_text="The recipient's id or email.")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields = ["source_type", "source_id", "message", "status", "channel"]

    def filter_recipient(self, queryset, name, value: str):
        value = value.strip()
        if value.isascii() and value.isdigit():
            return queryset.filter(recipient_id=int(value)) if len(value) < 19 else queryset.none()
        return queryset.filter(recipient__email__iexact=value)


@extend_schema_view(
    get=extend_schema(
        tags=ADMIN_TAGS,
        summary="Deliveries, newest first, filtered by source, message, status, channel, recipient, dates",
        responses={200: s.DeliveryOutput(many=True), **error_responses(400, 401, 403)},
    )
)
class DeliveryListView(ListAPIView):
    permission_classes = [CanViewDeliveries]
    serializer_class = s.DeliveryOutput
    filterset_class = DeliveryFilter
    queryset = Delivery.objects.select_related("message", "recipient").order_by("-created_at", "-id")


class DeliveryRetryView(APIView):
    permission_classes = [CanRetryDeliveries]

    @extend_schema(
        tags=ADMIN_TAGS,
        summary="Send failed deliveries again (ids that are not FAILED are left alone)",
        request=s.RetryInput,
        responses={200: s.RetryOutput, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.RetryInput, request.data)
        return Response({"requeued": deliveries_retry(delivery_ids=data["ids"])})


class MessageFilter(filters.FilterSet):
    source_type = filters.CharFilter()
    source_id = filters.CharFilter()
    status = filters.ChoiceFilter(choices=MessageStatus.choices)
    purpose = filters.ChoiceFilter(choices=Purpose.choices)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields = ["source_type", "source_id", "status", "purpose"]


@extend_schema_view(
    list=extend_schema(
        tags=ADMIN_TAGS,
        summary="Messages, newest first, each with its delivery counts",
        responses={200: s.MessageOutput(many=True), **error_responses(400, 401, 403)},
    ),
    retrieve=extend_schema(
        tags=ADMIN_TAGS,
        summary="One message: its audience, context and counts, also per channel",
        responses={200: s.MessageDetailOutput, **error_responses(401, 403, 404)},
    ),
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanViewMessages]
    queryset = Message.objects.order_by("-created_at", "-id")
    serializer_class = s.MessageOutput
    filterset_class = MessageFilter

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = message_counts(message.pk for message in page)  # one query for the page
        for message in page:
            message.counts = counts[message.pk]
        return self.get_paginated_response(s.MessageOutput(page, many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        message = self.get_object()
        message.counts = message_counts([message.pk])[message.pk]
        message.by_channel = message_channel_counts(message.pk)
        return Response(s.MessageDetailOutput(message).data)


class TestSendView(APIView):
    permission_classes = [CanTestSend]

    @extend_schema(
        tags=ADMIN_TAGS,
        summary="Send content now to one address on one channel (transactional; answers the delivery)",
        request=s.TestSendInput,
        responses={200: s.DeliveryOutput, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = validated(s.TestSendInput, request.data)
        # The service checks the address and the content (a 400 naming "to" or "content.<field>").
        content = Content(**data["content"])
        delivery = notification_test_send(channel=data["channel"], to=data["to"], content=content, by=request.user)
        delivery = Delivery.objects.select_related("message", "recipient").get(pk=delivery.pk)
        return Response(s.DeliveryOutput(delivery).data)
