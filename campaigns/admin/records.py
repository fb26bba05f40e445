"""Coupon codes and redemptions: read-only lists that stay fast on big tables (exact searches
on indexed columns, estimated counts, campaign filters in one query)."""

from django.contrib import admin
from django.db.models import Q
from unfold.admin import ModelAdmin, TabularInline

from accounts.models import normalize_email
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


class HeldFilter(admin.SimpleListFilter):
    title = "given to a customer"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Given to a customer"), ("no", "Free (never given)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(assigned_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(assigned_at__isnull=True)
        return queryset


@admin.register(CouponCode)
class CouponCodeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("code", "campaign", "uses", "max_uses", "holder", "assigned_at", "batch", "created_at")
    list_select_related = ("campaign", "assigned_to")
    list_filter = (("campaign", UniqueCodesCampaignFilter), HeldFilter)
    search_fields = ("code",)
    search_help_text = "The exact code (any case), or the holder's email."
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        # Codes are stored upper-case: an exact match uses the unique index; an email, the holder's.
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(assigned_to__email=normalize_email(term)), False
        return queryset.filter(code=term.upper()), False

    @admin.display(description="held by", ordering="assigned_to__email")
    def holder(self, obj: CouponCode) -> str:
        if obj.assigned_to_id is not None:
            return obj.assigned_to.email
        return "(account erased: nobody)" if obj.assigned_at is not None else "-"


class RedemptionInline(ReadOnlyAdminMixin, TabularInline):
    model = Redemption
    fields = ("campaign", "code", "amount", "shipping_amount", "status", "redeemed_at", "voided_at", "lines")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")


@admin.register(OrderRedemption)
class OrderRedemptionAdmin(ReadOnlyAdminMixin, ModelAdmin):
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
class RedemptionAdmin(ReadOnlyAdminMixin, ModelAdmin):
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
