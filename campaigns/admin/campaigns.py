"""The campaign pages: list, add/change form saved through the services, history, and the
"Test this campaign" page."""

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, URLField
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, StackedInline

from campaigns.admin.actions import CampaignActions
from campaigns.admin.cart_test import CartTestPages
from campaigns.admin.reports import CampaignReportPages
from campaigns.evaluation import cart_evaluate
from campaigns.forms import CampaignForm, CampaignTestForm, RuleForm, RuleFormSet
from campaigns.models import Campaign, CampaignCounter, CampaignKind, CodeType, CouponCode, DiscountRule
from campaigns.services.campaigns import campaign_create, campaign_update
from campaigns.simulation.console import SimulationAdminMixin
from lms.admin import ErrorSummaryAdmin, PlacesShownAdmin, ServiceSavedAdmin, without_fields
from lms.admin_history import PartHistory, ReadableHistoryAdmin
from lms.errors import DomainError
from lms.form_fields import TYPE_FIELDS_SCRIPT
from lms.forms import console_styled

ZERO = Decimal("0.00")


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.value, kind.label) for kind in (CampaignKind.DISCOUNT_COUPON, CampaignKind.FREE_SHIPPING)]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class DiscountRuleInline(StackedInline):
    model = DiscountRule
    form = RuleForm
    formset = RuleFormSet
    fields = (
        ("rule_type", "discount_type"),
        ("value", "max_discount"),
        ("min_quantity", "max_quantity"),
        "tiers",
        "categories",
        "brands",
        "products",
        "product_segments",
        ("buy_quantity", "get_quantity", "max_applications"),
    )
    autocomplete_fields = ("categories", "brands", "products")

    class Media:
        js = (TYPE_FIELDS_SCRIPT,)  # a row shows the fields of its rule type

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if obj is None or obj.pk is None else 0

    # The rules are part of the campaign: whoever may edit the campaign edits its rules.
    def _may_edit(self, request, obj: Campaign | None) -> bool:
        if obj is not None and obj.archived:
            return False
        action = "change" if obj is not None and obj.pk else "add"
        return request.user.has_perm(f"campaigns.{action}_campaign")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("campaigns.view_campaign") or request.user.has_perm("campaigns.change_campaign")

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)


@admin.register(Campaign)
class CampaignAdmin(
    CampaignReportPages,
    CartTestPages,
    SimulationAdminMixin,
    CampaignActions,
    ErrorSummaryAdmin,
    PlacesShownAdmin,
    ServiceSavedAdmin,
    ReadableHistoryAdmin,
    SimpleHistoryAdmin,
    ModelAdmin,
):
    form = CampaignForm
    inlines = [DiscountRuleInline]
    list_display = (
        "name",
        "kind",
        "status",
        "archived",
        "priority",
        "starts_at",
        "ends_at",
        "redemption_type",
        "code",
        "uses",
        "budget_used",
    )
    list_filter = (KindFilter, "status", "archived", "redemption_type", "audience")
    search_fields = ("name", "code")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("segments",)
    readonly_fields = ("usage", "codes_link", "archived", "archived_at", "created_by", "created_at", "updated_at")
    # Tabs (unfold): a marketer sees one part of the campaign at a time; the rules follow them.
    fieldsets = (
        ("Basics", {"classes": ["tab"], "fields": (("name", "kind"), "description", ("status", "priority"),
                                                  ("archived", "archived_at"))}),
        ("Schedule", {"classes": ["tab"], "fields": (("starts_at", "ends_at"), ("timezone", "weekdays"),
                                                    ("daily_start", "daily_end"))}),
        ("Audience & places", {"classes": ["tab"], "fields": (("audience", "segments"), "countries",
                                                             ("states", "cities"))}),
        ("Redemption & limits", {"classes": ["tab"], "fields": (
            ("redemption_type", "code_type", "code"), "codes_link", ("currency", "min_cart_value", "max_discount"),
            ("validity", "usage_limit", "customer_limit"), ("period_limit", "period", "budget"), "usage",
            ("exclusive", "stackable"),
        )}),
        ("Notification", {"classes": ["tab"], "fields": (("notify_title", "notify_channels"), "notify_body",
                                                        "notify_image_url", ("notify_cta_text", "notify_cta_url"))}),
        ("Record", {"classes": ["tab"], "fields": ("created_by", ("created_at", "updated_at"))}),
    )  # fmt: skip
    # Shown once the campaign exists.
    existing_only = frozenset(
        {"archived", "archived_at", "codes_link", "usage", "created_by", "created_at", "updated_at"}
    )
    history_parts = (PartHistory("rule", DiscountRule, lambda pk: DiscountRule.history.filter(campaign_id=pk)),)
    actions = [
        "activate",
        "deactivate",
        "duplicate",
        "delete_or_archive",
        "generate_codes",
        "assign_codes",
        "export_codes",
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, URLField):
            kwargs.setdefault("assume_scheme", "https")  # a URL typed without a scheme means https
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request):
        # Uses and discount given come with the row (one LEFT JOIN), whatever the page size.
        return (
            super()
            .get_queryset(request)
            .discounts()
            .annotate(counter_uses=F("counter__uses"), counter_spent=F("counter__discount_spent"))
        )

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.places_in_words(request, obj, self.fieldsets)
        return without_fields(self.fieldsets, self.existing_only)

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "kind") if obj is not None else self.readonly_fields

    def get_changeform_initial_data(self, request) -> dict[str, Any]:
        return {
            "starts_at": timezone.now().replace(second=0, microsecond=0),
            **super().get_changeform_initial_data(request),
        }

    def has_change_permission(self, request, obj=None) -> bool:
        # An archived campaign is kept for its history; duplicate it to run it again.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.archived)

    # --- Columns -------------------------------------------------------------------------------

    @staticmethod
    def _counter(obj: Campaign) -> tuple[int, Decimal]:
        if hasattr(obj, "counter_uses"):
            return obj.counter_uses or 0, obj.counter_spent or ZERO
        counter = CampaignCounter.objects.filter(campaign_id=obj.pk).first()  # e.g. a historical version
        return (counter.uses, counter.discount_spent) if counter else (0, ZERO)

    @admin.display(description="uses", ordering="counter_uses")
    def uses(self, obj: Campaign) -> str:
        uses, _ = self._counter(obj)
        return f"{uses:,} / {obj.usage_limit:,}" if obj.usage_limit else f"{uses:,}"

    @admin.display(description="budget used", ordering="counter_spent")
    def budget_used(self, obj: Campaign) -> str:
        _, spent = self._counter(obj)
        if obj.budget:
            return f"{spent:,.2f} / {obj.budget:,.2f} ({spent / obj.budget:.0%})"
        return f"{spent:,.2f}"

    @admin.display(description="usage")
    def usage(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "-"
        return f"{self.uses(obj)} use(s); {self.budget_used(obj)} {obj.currency} given"

    @admin.display(description="unique codes")
    def codes_link(self, obj: Campaign) -> str:
        if obj.pk is None or obj.code_type != CodeType.UNIQUE:
            return "-"
        count = CouponCode.objects.filter(campaign_id=obj.pk).count()
        held = CouponCode.objects.filter(campaign_id=obj.pk, assigned_to__isnull=False).count()
        url = reverse("admin:campaigns_couponcode_changelist") + f"?campaign__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} code(s)</a>, {} given to customers (make more with the list\'s "Generate unique '
            'codes" action; give each member of a segment their own with "Assign codes to a segment")',
            url,
            f"{count:,}",
            f"{held:,}",
        )

    # --- Saving through the services ------------------------------------------------------------

    def service_save(self, request, obj: Campaign, form: CampaignForm, change: bool) -> Campaign:
        # The rules formset's clean() ran campaign_check on this very data and left the rules
        # on the form; the service checks again inside its transaction and writes it all (the
        # rules and the segments too: ServiceSavedAdmin.save_related writes nothing).
        if change:
            return campaign_update(
                campaign=obj, rules=form.checked_rules, segment_ids=form.segment_ids(), **form.service_fields()
            )
        return campaign_create(
            rules=form.checked_rules or [], segment_ids=form.segment_ids(), created_by=request.user,
            **form.service_fields(),
        )  # fmt: skip

    def construct_change_message(self, request, form, formsets, add=False):
        if add:
            return [{"added": {}}]
        fields = [str(form.fields[name].label or name) for name in form.changed_data]
        if any(formset.has_changed() for formset in formsets):
            fields.append("rules")
        return [{"changed": {"fields": fields}}] if fields else []

    # --- History: shown, never reverted (a revert would write around the services) --------------

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    # --- "Test this campaign" -------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/test/",
                self.admin_site.admin_view(self.cart_test_view),
                name="campaigns_campaign_test",
            ),
            *super().get_urls(),
        ]

    def cart_test_view(self, request, object_id: str):
        """A cart judged against this campaign alone (whatever its status): the engine's answer."""
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            self.message_user(request, f"No discount campaign with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_changelist"))
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        form = CampaignTestForm(
            request.POST if request.method == "POST" else None,
            initial={"currency": campaign.currency, "codes": [campaign.code] if campaign.code else []},
        )
        result = None
        if form.is_bound and form.is_valid():
            try:
                result = cart_evaluate(form.cart_request(), only=campaign).result
            except DomainError as error:
                form.add_error(None, error.message)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test “{campaign}”",
            "subtitle": None,
            "opts": self.opts,
            "original": campaign,
            "form": console_styled(form),
            "result": result,
            "customer": form.customer_user,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/test.html", context)
