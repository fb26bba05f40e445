"""A unique-codes campaign's coupon codes over HTTP: generate, list, export as CSV, import.

    POST campaigns/discounts/{id}/codes          generate N random codes
    GET  campaigns/discounts/{id}/codes          the codes, paginated (?used, ?assigned, ?assigned_to, ?batch,
                                                 ?search)
    GET  campaigns/discounts/{id}/codes/export   every code as streamed CSV (?batch)
    POST campaigns/discounts/{id}/codes/import   a CSV/text file or a JSON list of codes

``urlpatterns`` is included under /api/v1/; the trailing slash is optional.
"""

import csv
import dataclasses

from django.http import StreamingHttpResponse
from django.urls import re_path
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Campaign, CampaignKind, CouponCode
from campaigns.services.campaigns import invalid
from campaigns.services.codes import (
    DEFAULT_CHARSET,
    EXPORT_COLUMNS,
    MAX_BATCH_LENGTH,
    MAX_CODE_LENGTH,
    MAX_IMPORT,
    MAX_USES,
    MIN_LENGTH,
    codes_for_export,
    codes_generate,
    codes_import,
)
from lms.api.csv import csv_response
from lms.api.parsers import JSONParser
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.validation import validated
from lms.errors import NotFound

# A request that generates more holds a worker for seconds; `manage.py generate_codes` has no cap.
API_MAX_GENERATE = 200_000
MAX_FILE_BYTES = 8 * 1024 * 1024  # 100,000 codes of 32 characters in CSV are ~3.4 MB
CAMPAIGN_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The discount campaign's id.")


# --- Serializers -------------------------------------------------------------------------------


class CodeGenerateInput(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=API_MAX_GENERATE, help_text="How many new codes.")
    prefix = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_CODE_LENGTH,
        help_text="Before the random part: letters, digits, '-', '_' (upper-cased), such as DIWALI-.",
    )  # fmt: skip
    suffix = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_CODE_LENGTH, help_text="After the random part."
    )
    length = serializers.IntegerField(
        required=False, default=8, min_value=MIN_LENGTH, max_value=MAX_CODE_LENGTH,
        help_text="Random characters per code; the whole code is at most 32 characters.",
    )  # fmt: skip
    charset = serializers.CharField(
        required=False, default=DEFAULT_CHARSET, max_length=100,
        help_text="Characters to draw from (letters A-Z and digits 2-9; 0, 1, I, L, O are refused as ambiguous).",
    )  # fmt: skip
    max_uses = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_USES)
    batch = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_BATCH_LENGTH,
        help_text="A name for this lot of codes (default gen-<UTC time>), to filter and export by.",
    )  # fmt: skip


class CodeBatchOutput(serializers.Serializer):
    batch = serializers.CharField()
    count = serializers.IntegerField(help_text="Codes created: always the count asked for.")
    sample = serializers.ListField(child=serializers.CharField(), help_text="The first 10 codes.")


class CouponCodeOutput(serializers.ModelSerializer):
    class Meta:
        model = CouponCode
        fields = ["id", "code", "max_uses", "uses", "batch", "assigned_to", "assigned_at", "created_at"]
        extra_kwargs = {"assigned_to": {"help_text": "The customer the code was given to: only they can use it."}}


class CodeImportInput(serializers.Serializer):
    codes = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        max_length=MAX_IMPORT,
        help_text="Codes, trimmed and upper-cased; blanks are skipped.",
    )
    max_uses = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_USES)
    batch = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_BATCH_LENGTH,
        help_text="A name for this lot of codes (default import-<UTC time>).",
    )  # fmt: skip


class CodeImportFileInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="UTF-8 CSV with a `code` column (other columns ignored), or plain text with one code per line."
    )
    max_uses = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_USES)
    batch = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_BATCH_LENGTH)


class CodeImportInvalidOutput(serializers.Serializer):
    code = serializers.CharField(help_text="As given (at most 40 characters shown).")
    reason = serializers.CharField()


class CodeImportOutput(serializers.Serializer):
    batch = serializers.CharField()
    created = serializers.IntegerField()
    duplicates = serializers.ListField(
        child=serializers.CharField(),
        help_text="Not added: repeated in the list, already a code (of any campaign), or a live shared code.",
    )
    invalid = CodeImportInvalidOutput(many=True, help_text="Not added: malformed.")


# --- Views -------------------------------------------------------------------------------------


class CodeFilter(filters.FilterSet):
    used = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_used",
        help_text="true: used at least once; false: never used.",
    )
    assigned = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_assigned",
        help_text="true: given to a customer; false: never given.",
    )
    assigned_to = filters.NumberFilter(field_name="assigned_to_id", help_text="The holder's customer id.")
    batch = filters.CharFilter(help_text="The batch name, exactly.")
    search = filters.CharFilter(method="filter_search", help_text="The code starts with this (any case).")

    class Meta:
        model = CouponCode
        fields = ["batch"]

    def filter_used(self, queryset, name, value):
        return queryset.filter(uses__gt=0) if value == "true" else queryset.filter(uses=0)

    def filter_assigned(self, queryset, name, value):
        return queryset.filter(assigned_at__isnull=value != "true")

    def filter_search(self, queryset, name, value):
        return queryset.filter(code__startswith=value.strip().upper())


class _CampaignCodesView(GenericAPIView):
    # The model permissions checked are CouponCode's (view / add), for staff without role ADMIN.
    queryset = CouponCode.objects.order_by("id")
    permission_classes = [IsAdminOrModelPermission]

    def campaign(self) -> Campaign:
        campaign = Campaign.objects.filter(pk=self.kwargs["pk"]).first()
        if campaign is None:
            raise NotFound("not_found", f"No discount campaign with id {self.kwargs['pk']}.")
        if campaign.kind == CampaignKind.LOYALTY_PROGRAM:
            raise NotFound("not_a_discount_campaign", "This is a loyalty program; it has no coupon codes.")
        return campaign


class CampaignCodesView(_CampaignCodesView):
    serializer_class = CouponCodeOutput
    filterset_class = CodeFilter

    @extend_schema(
        tags=["campaigns"],
        parameters=[CAMPAIGN_ID],
        summary="A campaign's unique codes, oldest first (filter by used, given or holder, batch, code prefix)",
        responses={200: CouponCodeOutput(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        codes = self.filter_queryset(self.get_queryset().filter(campaign=self.campaign()))
        page = self.paginate_queryset(codes)
        return self.get_paginated_response(CouponCodeOutput(page, many=True).data)

    @extend_schema(
        tags=["campaigns"],
        parameters=[CAMPAIGN_ID],
        summary="Generate random unique codes for a campaign with code_type UNIQUE",
        description=(
            "Exactly `count` new codes, `prefix + random + suffix`, drawn with a cryptographic generator from "
            "`charset`, unique among all codes and live shared codes. 409 unless the campaign is redeemed with "
            "a coupon code, has code_type UNIQUE and is not archived; 400 on `length` when the code space is "
            "under 100x the codes of that shape."
        ),
        request=CodeGenerateInput,
        responses={201: CodeBatchOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = validated(CodeGenerateInput, request.data)
        result = codes_generate(campaign=self.campaign(), **data)
        return Response(CodeBatchOutput(dataclasses.asdict(result)).data, status=status.HTTP_201_CREATED)


class CodeExportQuery(serializers.Serializer):
    batch = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CampaignCodesExportView(_CampaignCodesView):
    @extend_schema(
        tags=["campaigns"],
        summary="A campaign's codes as CSV (streamed): code, max_uses, uses, batch, created_at",
        parameters=[CAMPAIGN_ID, OpenApiParameter("batch", str, description="Only this batch.")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        campaign = self.campaign()
        # Checked before streaming: once the first line is out, an error can no longer be answered.
        query = validated(CodeExportQuery, request.query_params)
        rows = codes_for_export(campaign, batch=query.get("batch", ""))
        return csv_response(EXPORT_COLUMNS, rows, filename=f"campaign-{campaign.pk}-codes.csv")


class CampaignCodesImportView(_CampaignCodesView):
    parser_classes = [JSONParser, MultiPartParser]
    serializer_class = CodeImportInput  # what OPTIONS describes; post() picks by content type

    @extend_schema(
        tags=["campaigns"],
        parameters=[CAMPAIGN_ID],
        summary="Import codes: a CSV/text file (multipart, field `file`) or JSON {codes: [...]}",
        description=(
            f"At most {MAX_IMPORT:,} codes. Codes are trimmed and upper-cased; blanks are skipped. Malformed "
            "codes are listed in `invalid`; codes repeated, already stored or equal to a live shared code in "
            "`duplicates`; the rest are created, all in one transaction."
        ),
        request={"application/json": CodeImportInput, "multipart/form-data": CodeImportFileInput},
        responses={200: CodeImportOutput, **error_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, pk: int) -> Response:
        if request.content_type.startswith("multipart/"):
            data = dict(validated(CodeImportFileInput, request.data))
            codes = _codes_in_file(data.pop("file"))
        else:
            data = dict(validated(CodeImportInput, request.data))
            codes = data.pop("codes")
        result = codes_import(campaign=self.campaign(), codes=codes, **data)
        return Response(CodeImportOutput(dataclasses.asdict(result)).data)


def _codes_in_file(upload) -> list[str]:
    """The codes of a CSV with a ``code`` column, or else of every line."""
    if upload.size > MAX_FILE_BYTES:
        raise invalid("file", f"The file is over {MAX_FILE_BYTES // 1024 // 1024} MB; split it.")
    try:
        lines = upload.read().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise invalid("file", "The file is not UTF-8 text.")
    try:
        rows = csv.reader(lines)
        header = [cell.strip().lower() for cell in next(rows, [])]
        if "code" in header:
            column = header.index("code")
            codes = [row[column] if column < len(row) else "" for row in rows]
        else:
            codes = lines
    except csv.Error as exc:
        raise invalid("file", f"The file is not valid CSV: {exc}.")
    given = sum(1 for code in codes if code.strip())
    if not given:
        raise invalid("file", "The file holds no codes.")
    if given > MAX_IMPORT:
        raise invalid("file", f"Import at most {MAX_IMPORT:,} codes at a time; the file holds {given:,}. Split it.")
    return codes


urlpatterns = [
    re_path(r"^campaigns/discounts/(?P<pk>\d+)/codes/?$", CampaignCodesView.as_view(), name="campaign-codes"),
    re_path(
        r"^campaigns/discounts/(?P<pk>\d+)/codes/export/?$",
        CampaignCodesExportView.as_view(),
        name="campaign-codes-export",
    ),
    re_path(
        r"^campaigns/discounts/(?P<pk>\d+)/codes/import/?$",
        CampaignCodesImportView.as_view(),
        name="campaign-codes-import",
    ),
]
