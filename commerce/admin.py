"""The console's view of the platform mirror: read-mostly, fast on large tables."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from accounts.console import UserAdmin
from accounts.models import User
from commerce.models import (
    Brand,
    Category,
    InteractionEvent,
    Order,
    OrderLine,
    OrderStatusChange,
    Product,
    RefundLine,
)
from lms.admin import EstimatedCountPaginator, ReadOnlyAdminMixin


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ("name", "parent", "external_id", "updated_at")
    list_select_related = ("parent",)
    search_fields = ("name",)
    list_filter = (("parent", admin.RelatedOnlyFieldListFilter),)
    autocomplete_fields = ("parent",)


@admin.register(Brand)
class BrandAdmin(ModelAdmin):
    list_display = ("name", "external_id", "updated_at")
    search_fields = ("name",)


@admin.register(Product)
class ProductAdmin(ModelAdmin):
    list_display = ("sku", "name", "category", "brand", "price", "stock_quantity", "active", "updated_at")
    list_select_related = ("category", "brand")
    list_filter = (
        "active",
        ("category", admin.RelatedOnlyFieldListFilter),
        ("brand", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("sku", "name")
    autocomplete_fields = ("category", "brand")
    readonly_fields = ("created_at", "updated_at")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


class OrderLineInline(ReadOnlyAdminMixin, TabularInline):
    model = OrderLine
    fields = (
        "sku",
        "name",
        "quantity",
        "unit_price",
        "line_total",
        "refunded_quantity",
        "category_name",
        "brand_name",
        "unknown_sku",
    )
    readonly_fields = fields
    extra = 0


class OrderStatusChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = OrderStatusChange
    fields = ("from_status", "to_status", "occurred_at", "refund_amount", "external_id", "reason")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "external_id",
        "customer",
        "placed_at",
        "status",
        "total",
        "refunded_total",
        "currency",
        "has_unknown_skus",
    )
    list_select_related = ("customer",)
    list_filter = ("status", "has_unknown_skus")
    # Exact lookups use the unique indexes (emails are stored lower-cased).
    search_fields = ("external_id__exact", "customer__email__exact", "customer__external_id__exact")
    inlines = [OrderLineInline, OrderStatusChangeInline]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(RefundLine)
class RefundLineAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("change", "line", "quantity", "amount")
    list_select_related = ("change", "change__order", "line")
    search_fields = ("change__order__external_id__exact",)


@admin.register(InteractionEvent)
class InteractionEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("kind", "customer", "product", "occurred_at", "external_id")
    list_select_related = ("customer", "product")
    list_filter = ("kind",)
    search_fields = ("customer__email__exact", "customer__external_id__exact", "product__sku__exact")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


# Customers are accounts' users; the console shows their orders and events beside them.
# Registered here, not in accounts, because accounts may not know about commerce (accounts.admin,
# discovered first as accounts comes first in INSTALLED_APPS, registered the plain page).
admin.site.unregister(User)


@admin.register(User)
class CustomerAdmin(UserAdmin):
    readonly_fields = (*UserAdmin.readonly_fields, "orders_link", "events_link")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("E-commerce platform", {"fields": ("external_id", "platform_signed_up_at", "orders_link", "events_link")}),
    )
    search_fields = (*UserAdmin.search_fields, "external_id__exact")
    paginator = EstimatedCountPaginator

    @admin.display(description="orders")
    def orders_link(self, obj: User) -> str:
        url = reverse("admin:commerce_order_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">{} orders</a>', url, obj.orders.count())

    @admin.display(description="interaction events")
    def events_link(self, obj: User) -> str:
        url = reverse("admin:commerce_interactionevent_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">{} events</a>', url, obj.interaction_events.count())
