"""Coupon codes and redemptions: read-only lists that stay fast on big tables (exact searches
on indexed columns, estimated counts, campaign filters in one query)."""

from django.contrib import admin
from django.db.models import Q

from campaigns.models import Campaign, CodeType, CouponCode, OrderRedemption, Redemption
from lms.admin import EstimatedCountPaginator, ReadOnlyAdminMixin


class DiscountCampaignFilter(admin.RelatedFieldListFilter):
    """The campaigns to filter by, in one query (not a DISTINCT over a big table)."""

    def field_choices(self, field, request, model_admin):
        return list(self.campaigns().order_by("name", "pk").values_list("pk", "name"))

    def campaigns(self):
        return Campaign.objects.discounts()


class UniqueCodesCampaignFilter(DiscountCampaignFilter):
    def campaigns(self):
        return Campaign.objects.discounts().filter(code_type=CodeType.UNIQUE)


@admin.register(CouponCode)
class CouponCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "campaign", "uses", "max_uses", "batch", "created_at")
    list_select_related = ("campaign",)
    list_filter = (("campaign", UniqueCodesCampaignFilter),)
    search_fields = ("code",)
    search_help_text = "The exact code (any case)."
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        # Codes are stored upper-case: an exact match uses the unique index.
        term = search_term.strip()
        return (queryset.filter(code=term.upper()) if term else queryset), False


class RedemptionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Redemption
    fields = ("campaign", "code", "amount", "shipping_amount", "status", "redeemed_at", "voided_at", "lines")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")


@admin.register(OrderRedemption)
class OrderRedemptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "customer", "status", "total_discount", "created_at")
    list_select_related = ("customer",)
    list_filter = ("status", "created_at")
    search_fields = ("order_id", "customer__email")
    search_help_text = "The exact order id or customer email."
    inlines = [RedemptionInline]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(order_id=term) | Q(customer__email=term.lower())), False


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("order_id", "campaign", "customer", "code", "amount", "shipping_amount", "status", "redeemed_at")
    list_select_related = ("campaign", "customer")
    list_filter = (("campaign", DiscountCampaignFilter), "status", "redeemed_at")
    search_fields = ("order_id", "code", "customer__email")
    search_help_text = "The exact order id, code or customer email."
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(order_id=term) | Q(code=term.upper()) | Q(customer__email=term.lower())), False
