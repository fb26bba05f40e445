"""Segments of customers or products, and their materialised membership."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords


class Segment(models.Model):
    class Kind(models.TextChoices):
        USER = "USER", "Customers"
        PRODUCT = "PRODUCT", "Products"

    class Type(models.TextChoices):
        DYNAMIC = "DYNAMIC", "Dynamic (criteria)"
        STATIC = "STATIC", "Static (a list)"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Waiting for a refresh"
        READY = "READY", "Ready"
        FAILED = "FAILED", "Refresh failed"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USER)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.DYNAMIC)
    criteria = models.JSONField(null=True, blank=True, help_text="The criteria tree (dynamic segments).")
    member_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed the name, description or criteria, and when (refreshes are not edits).
    history = HistoricalRecords(
        excluded_fields=["updated_at", "member_count", "status", "last_refreshed_at", "refresh_error"]
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="segments_segment_name_unique"),
            models.CheckConstraint(
                condition=Q(type="STATIC", criteria__isnull=True) | Q(type="DYNAMIC", criteria__isnull=False),
                name="segments_segment_criteria_iff_dynamic",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="customer_memberships")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="segment_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="segments_customer_once")]
        indexes = [models.Index(fields=["customer"], name="segments_customer_lookup")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class ProductMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="product_memberships")
    product = models.ForeignKey("commerce.Product", on_delete=models.CASCADE, related_name="segment_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "product"], name="segments_product_once")]
        indexes = [models.Index(fields=["product"], name="segments_product_lookup")]

    def __str__(self) -> str:
        return f"{self.product_id} in {self.segment_id}"
