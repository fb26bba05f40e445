from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lms.api.serializers import UpdateInput
from notifications.models import Channel, Delivery, DeliveryStatus, Message, PushDevice
from notifications.services.links import click_url
from notifications.services.preferences import timezone_problem

PLATFORMS = ("ios", "android", "web")


class SourceOutput(serializers.Serializer):
    type = serializers.CharField(help_text="What sent it: campaign, program, promotion, test, ...")
    id = serializers.CharField(help_text="Its id in that kind (blank for a test send).")


def _source(message: Message) -> dict[str, str]:
    return {"type": message.source_type, "id": message.source_id}


# --- The inbox -------------------------------------------------------------------------------


class InboxQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)


class InboxItemOutput(serializers.ModelSerializer):
    title = serializers.CharField(help_text="Rendered for you.")
    body = serializers.CharField(help_text="Rendered for you.")
    image_url = serializers.CharField(source="message.image_url", help_text="Banner image (http(s)), or blank.")
    cta_text = serializers.CharField(source="message.cta_text")
    cta_url = serializers.CharField(source="message.cta_url", help_text="The call to action's link, or blank.")
    link = serializers.SerializerMethodField(
        help_text="The call to action through the tracked redirect (records the click); blank without one."
    )
    read = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id", "title", "body", "image_url", "cta_text", "cta_url", "link", "status", "read", "created_at",
            "read_at", "source",
        ]  # fmt: skip

    def get_link(self, item: Delivery) -> str:
        return click_url(item.pk) if item.message.cta_url else ""

    def get_read(self, item: Delivery) -> bool:
        return item.status != DeliveryStatus.SENT

    @extend_schema_field(SourceOutput)
    def get_source(self, item: Delivery) -> dict[str, str]:
        return _source(item.message)


class ReadAllOutput(serializers.Serializer):
    updated = serializers.IntegerField(help_text="How many unread items were marked read.")


# --- Preferences and devices -----------------------------------------------------------------


class PreferencesOutput(serializers.Serializer):
    marketing_email = serializers.BooleanField(help_text="Consent to marketing mail (kept on your profile).")
    marketing_sms = serializers.BooleanField(help_text="Consent to marketing SMS.")
    marketing_push = serializers.BooleanField(help_text="Consent to marketing push messages.")
    in_app = serializers.BooleanField(help_text="Marketing messages in the in-app inbox.")
    timezone = serializers.CharField(help_text="IANA zone for quiet hours; blank: the site's zone.")
    quiet_start = serializers.TimeField(allow_null=True, help_text="Quiet hours start (local time), or null.")
    quiet_end = serializers.TimeField(
        allow_null=True, help_text="Quiet hours end; before the start, they cross midnight."
    )


class PreferencesUpdateInput(UpdateInput):
    marketing_email = serializers.BooleanField(required=False)
    marketing_sms = serializers.BooleanField(required=False)
    marketing_push = serializers.BooleanField(required=False)
    in_app = serializers.BooleanField(required=False)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    quiet_start = serializers.TimeField(
        required=False, allow_null=True, help_text="HH:MM; null (with quiet_end null) clears the quiet hours."
    )
    quiet_end = serializers.TimeField(
        required=False, allow_null=True, help_text="HH:MM; set with quiet_start (one end alone must fit the other)."
    )

    def validate_timezone(self, value: str) -> str:
        if problem := timezone_problem(value):
            raise serializers.ValidationError(problem)
        return value


class PushDeviceInput(serializers.Serializer):
    token = serializers.CharField(max_length=512, help_text="The push service's token for this device.")
    platform = serializers.ChoiceField(choices=PLATFORMS, required=False, default="")


class PushDeviceOutput(serializers.ModelSerializer):
    class Meta:
        model = PushDevice
        fields = ["id", "token", "platform", "active", "created_at", "last_seen_at"]


# --- Administration --------------------------------------------------------------------------


class RecipientOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class DeliveryOutput(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()
    recipient = RecipientOutput()

    class Meta:
        model = Delivery
        fields = [
            "id", "message", "source", "recipient", "channel", "status", "reason", "address", "title", "body",
            "attempts", "last_error", "provider_message_id", "available_at", "created_at", "sent_at", "read_at",
            "clicked_at", "unsubscribed_at",
        ]  # fmt: skip

    @extend_schema_field(SourceOutput)
    def get_source(self, delivery: Delivery) -> dict[str, str]:
        return _source(delivery.message)


class CountsOutput(serializers.Serializer):
    sent = serializers.IntegerField(help_text="Reached the recipient (read and clicked ones included).")
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Opted out, no address, frequency cap, cancelled.")
    pending = serializers.IntegerField(help_text="Waiting or being sent.")
    read = serializers.IntegerField()
    clicked = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class MessageOutput(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()
    counts = CountsOutput(help_text="Its deliveries by outcome.")

    class Meta:
        model = Message
        fields = [
            "id", "key", "source", "purpose", "title", "body", "image_url", "cta_text", "cta_url", "channels",
            "status", "recipients", "created_at", "started_at", "finished_at", "counts",
        ]  # fmt: skip

    @extend_schema_field(SourceOutput)
    def get_source(self, message: Message) -> dict[str, str]:
        return _source(message)


class MessageDetailOutput(MessageOutput):
    by_channel = serializers.DictField(child=CountsOutput(), help_text="The counts per channel.")

    class Meta(MessageOutput.Meta):
        fields = [*MessageOutput.Meta.fields, "audience", "context", "by_channel"]


class ContentInput(serializers.Serializer):
    # Lengths, URLs and templates are judged by content_check, which names the field.
    title = serializers.CharField(allow_blank=True, trim_whitespace=False)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    image_url = serializers.CharField(required=False, allow_blank=True, default="")
    cta_text = serializers.CharField(required=False, allow_blank=True, default="")
    cta_url = serializers.CharField(required=False, allow_blank=True, default="")


class TestSendInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    to = serializers.CharField(
        max_length=254,
        help_text="EMAIL: an address; SMS: a phone number; PUSH: a device token; "
        "IN_APP: the email or id of the account whose inbox gets it.",
    )
    content = ContentInput()

    def validate(self, attrs):
        to = attrs["to"].strip()
        # An IN_APP recipient named by id: digits the database can hold (the service reads any
        # str.isdigit() text, "²" too, as an id).
        if attrs["channel"] == Channel.IN_APP and to.isdigit() and not (to.isascii() and len(to) <= 18):
            raise serializers.ValidationError({"to": ["An account id is a number of at most 18 digits."]})
        return attrs


class RetryInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000, help_text="Delivery ids."
    )


class RetryOutput(serializers.Serializer):
    requeued = serializers.IntegerField(help_text="Failed deliveries put back to be sent (others are left alone).")
