from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lms.api.fields import DateTimeField
from lms.api.serializers import StrictInput
from notifications.models import DeliveryStatus, MessageStatus
from promotions.models import Promotion, PromotionAudience, PromotionStatus
from promotions.selectors import campaign_code


class PromotionFieldsInput(StrictInput):
    """Every field, optional: creation requires the title, a change sends any.

    URLs, channels and templates are judged by the service (notifications' content check), so
    the API and the console refuse the same things with the same messages."""

    title = serializers.CharField(max_length=200, required=False, help_text="Placeholders allowed.")
    description = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The message's body; placeholders allowed."
    )
    image_url = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="Banner, http(s).")
    cta_text = serializers.CharField(max_length=60, required=False, allow_blank=True)
    cta_url = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="http(s).")
    campaign_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="A discount campaign whose code is shown."
    )
    audience = serializers.ChoiceField(choices=PromotionAudience.choices, required=False)
    segment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100, help_text="USER segments."
    )
    starts_at = DateTimeField(required=False, help_text="Shown in the feed from (default: now).")
    ends_at = DateTimeField(required=False, allow_null=True, help_text="Shown until (empty: no end).")
    channels = serializers.ListField(
        child=serializers.CharField(max_length=16), required=False, max_length=4, help_text="EMAIL, SMS, PUSH, IN_APP."
    )


class PromotionCreateInput(PromotionFieldsInput):
    title = serializers.CharField(max_length=200, help_text="Placeholders allowed.")


class PromotionUpdateInput(PromotionFieldsInput):
    pass


class PromotionSendInput(StrictInput):
    send_at = DateTimeField(
        required=False, allow_null=True, help_text="Schedule for this time instead of sending now (future)."
    )


class DeliveryCountsOutput(serializers.Serializer):
    PENDING = serializers.IntegerField()
    SENDING = serializers.IntegerField()
    SENT = serializers.IntegerField()
    FAILED = serializers.IntegerField()
    SKIPPED = serializers.IntegerField()
    READ = serializers.IntegerField()
    CLICKED = serializers.IntegerField()


class PromotionOutput(serializers.ModelSerializer):
    campaign_code = serializers.SerializerMethodField(help_text="The code the customer is shown.")
    segment_ids = serializers.SerializerMethodField()
    message_status = serializers.SerializerMethodField(help_text="The fan-out of the sent message, if sent.")
    deliveries = serializers.SerializerMethodField(help_text="Deliveries per status.")
    status = serializers.ChoiceField(choices=PromotionStatus.choices, read_only=True)
    channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    image_url = serializers.CharField(read_only=True, help_text="The banner, http(s); empty: none.")
    cta_url = serializers.CharField(read_only=True, help_text="http(s); empty: none.")
    campaign_id = serializers.IntegerField(read_only=True, allow_null=True)
    message_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Promotion
        fields = [
            "id", "title", "description", "image_url", "cta_text", "cta_url", "campaign_id", "campaign_code",
            "audience", "segment_ids", "starts_at", "ends_at", "channels", "status", "send_at", "sent_at",
            "send_error", "message_id", "message_status", "deliveries", "archived", "archived_at",
            "created_by_id", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_campaign_code(self, obj: Promotion) -> str:
        return campaign_code(obj.campaign)

    def get_segment_ids(self, obj: Promotion) -> list[int]:
        return sorted(segment.pk for segment in obj.segments.all())

    @extend_schema_field(serializers.ChoiceField(choices=MessageStatus.choices, allow_null=True))
    def get_message_status(self, obj: Promotion) -> str | None:
        return obj.message.status if obj.message_id else None

    @extend_schema_field(DeliveryCountsOutput)
    def get_deliveries(self, obj: Promotion) -> dict[str, int]:
        counts = getattr(obj, "delivery_counts", {})  # promotions.selectors.with_delivery_counts
        return {status: counts.get(status, 0) for status in DeliveryStatus.values}


class PromotionFeedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(help_text="Rendered for the caller.")
    description = serializers.CharField(help_text="Rendered for the caller.")
    image_url = serializers.CharField()
    cta_text = serializers.CharField()
    cta_url = serializers.CharField()
    code = serializers.CharField(help_text="The code to use at checkout (empty: none needed).")
    campaign_id = serializers.IntegerField(allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
