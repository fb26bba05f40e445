from rest_framework import serializers

from segments.models import Segment


class SegmentCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=Segment.Kind.choices, default=Segment.Kind.USER)
    type = serializers.ChoiceField(choices=Segment.Type.choices, default=Segment.Type.DYNAMIC)
    criteria = serializers.JSONField(
        required=False,
        help_text='Dynamic segments: {"all": [{"field": "total_spend", "op": "gte", "value": 5000, "window_days": 90}]}.',
    )
    members = serializers.ListField(
        child=serializers.CharField(max_length=254),
        required=False,
        max_length=100_000,
        help_text="Static segments: customer emails or external ids, or product skus.",
    )


class SegmentUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    criteria = serializers.JSONField(required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
        return attrs


class SegmentOutput(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = [
            "id", "name", "description", "kind", "type", "criteria", "member_count", "status",
            "last_refreshed_at", "refresh_error", "created_at", "updated_at",
        ]  # fmt: skip


class SegmentCreateOutput(SegmentOutput):
    unknown_members = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Static segments: values that matched nothing."
    )

    class Meta(SegmentOutput.Meta):
        fields = [*SegmentOutput.Meta.fields, "unknown_members"]


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(required=False, help_text="Customers.")
    external_id = serializers.CharField(required=False, allow_null=True, help_text="Customers.")
    first_name = serializers.CharField(required=False, help_text="Customers.")
    last_name = serializers.CharField(required=False, help_text="Customers.")
    sku = serializers.CharField(required=False, help_text="Products.")
    name = serializers.CharField(required=False, help_text="Products.")


class SegmentDetailOutput(SegmentOutput):
    sample = MemberOutput(many=True, read_only=True)

    class Meta(SegmentOutput.Meta):
        fields = [*SegmentOutput.Meta.fields, "sample"]


class PreviewInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Segment.Kind.choices, default=Segment.Kind.USER)
    criteria = serializers.JSONField()


class PreviewOutput(serializers.Serializer):
    count = serializers.IntegerField()
    sample = MemberOutput(many=True)


class MembersReplaceInput(serializers.Serializer):
    members = serializers.ListField(child=serializers.CharField(max_length=254), max_length=100_000, allow_empty=True)


class MembersReplaceOutput(serializers.Serializer):
    member_count = serializers.IntegerField()
    unknown = serializers.ListField(child=serializers.CharField(), help_text="Values that matched nothing.")


class SegmentRefreshOutput(serializers.Serializer):
    status = serializers.CharField()


class CriteriaFieldOutput(serializers.Serializer):
    field = serializers.CharField()
    group = serializers.CharField()
    label = serializers.CharField()
    value_type = serializers.CharField()
    operators = serializers.ListField(child=serializers.CharField())
    unit = serializers.CharField()
    window = serializers.ChoiceField(choices=["none", "optional", "required"])
    default_window_days = serializers.IntegerField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())
    help = serializers.CharField()
    min_value = serializers.IntegerField(allow_null=True, help_text="The lowest value a number takes, if bounded.")
    max_value = serializers.IntegerField(allow_null=True, help_text="The highest value a number takes, if bounded.")


class CriteriaCatalogueOutput(serializers.Serializer):
    USER = CriteriaFieldOutput(many=True)
    PRODUCT = CriteriaFieldOutput(many=True)
    operators = serializers.DictField(child=serializers.CharField())
