"""The loyalty program pages: the list with each program's members and outstanding points (and
the liability summary above it), the add/change form checked by ``program_check`` and saved
through ``program_create``/``program_update``, history, and the switch and delete actions."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, URLField
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from campaigns.models import Campaign, CampaignStatus
from campaigns.services.campaigns import campaign_delete, campaign_status_set
from campaigns.simulation.console import SimulationAdminMixin
from lms.admin import ArchivingActions, ErrorSummaryAdmin, PlacesShownAdmin, ServiceSavedAdmin, without_fields
from lms.admin_history import PartHistory, ReadableHistoryAdmin
from lms.errors import Invalid
from lms.form_fields import TYPE_FIELDS_SCRIPT
from loyalty.admin.reports import ProgramReportPages
from loyalty.forms import (
    MAX_RULES,
    MAX_TIERS,
    ProgramForm,
    RuleForm,
    RuleFormSet,
    SettingsForm,
    SettingsFormSet,
    TierForm,
    TierFormSet,
)
from loyalty.models import EarningRule, LoyaltyAccount, LoyaltyProgram, ProgramSettings, Tier
from loyalty.selectors import liability
from loyalty.services.programs import program_create, program_update

NO_MEMBERS = {"members": 0, "outstanding_points": 0, "pending_points": 0, "outstanding_value": Decimal("0.00")}


def rupees(value: Decimal) -> str:
    return f"₹{value:,.2f}"


@dataclass(frozen=True)
class LiabilityLine:
    program_id: int
    name: str
    members: int
    outstanding_points: int
    outstanding_value: Decimal
    pending_points: int = 0  # of the outstanding points, those on hold

    @property
    def members_text(self) -> str:
        return f"{self.members:,}"

    @property
    def points_text(self) -> str:
        return f"{self.outstanding_points:,}"

    @property
    def value_text(self) -> str:
        return rupees(self.outstanding_value)


@dataclass(frozen=True)
class LiabilitySummary:
    """What the points customers hold would cost if all were spent: per program, and in all."""

    lines: list[LiabilityLine]
    total: LiabilityLine


def liability_summary(figures: dict[int, dict]) -> LiabilitySummary:
    names = dict(LoyaltyProgram.objects.filter(pk__in=list(figures)).values_list("pk", "name"))
    lines = sorted(
        (LiabilityLine(pk, names.get(pk, f"#{pk}"), **row) for pk, row in figures.items()),
        key=lambda line: (-line.outstanding_value, line.name),
    )
    total = LiabilityLine(
        0,
        "All programs",
        sum(line.members for line in lines),
        sum(line.outstanding_points for line in lines),
        sum((line.outstanding_value for line in lines), Decimal("0.00")),
        sum(line.pending_points for line in lines),
    )
    return LiabilitySummary(lines, total)


# --- The program's parts, edited on its page ---------------------------------------------------


class ProgramPartInline:
    """Settings, rules and tiers are part of the program: whoever may edit the program edits
    them (the formset's own bounds are validated too)."""

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, validate_min=True, validate_max=True, **kwargs)

    def _may_edit(self, request, obj: Campaign | None) -> bool:
        if obj is not None and obj.archived:
            return False
        action = "change" if obj is not None and obj.pk else "add"
        return request.user.has_perm(f"loyalty.{action}_loyaltyprogram")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("loyalty.view_loyaltyprogram") or request.user.has_perm(
            "loyalty.change_loyaltyprogram"
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_edit(request, obj)


class SettingsInline(ProgramPartInline, StackedInline):
    model = ProgramSettings
    form = SettingsForm
    formset = SettingsFormSet
    verbose_name = verbose_name_plural = "points, redemption and messages"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "point_value", "min_redeem_points", "expiry_days", ("tier_basis", "tier_window_days"),
                    ("hold_days", "hold_until_fulfilled", "return_window_days"),
                )
            },
        ),
        (
            "Messages to members (blank title or body: the default text)",
            {
                "fields": (
                    "message_channels",
                    "points_earned_on", "points_earned_title", "points_earned_body",
                    ("points_expiring_on", "points_expiring_days"), "points_expiring_title", "points_expiring_body",
                    "tier_change_on", "tier_up_title", "tier_up_body", "tier_down_title", "tier_down_body",
                )
            },
        ),
    )  # fmt: skip
    min_num = max_num = 1
    extra = 0
    can_delete = False
    tab = True  # a tab of its own at the top (unfold): the program's page stays short


class EarningRuleInline(ProgramPartInline, TabularInline):
    model = EarningRule
    form = RuleForm
    formset = RuleFormSet
    fields = (
        "rule_type", "points_per_rupee", "rounding", "min_order_value", "bonus_points", "bonus_percent",
        "base_points", "streak_steps", "max_multiplier", "categories",
    )  # fmt: skip
    autocomplete_fields = ("categories",)
    max_num = MAX_RULES

    class Media:
        js = (TYPE_FIELDS_SCRIPT,)  # a row shows the fields of its rule type

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if obj is None or obj.pk is None else 0


class TierInline(ProgramPartInline, TabularInline):
    model = Tier
    form = TierForm
    formset = TierFormSet
    fields = ("name", "threshold", "multiplier", "benefits")
    max_num = MAX_TIERS

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if obj is None or obj.pk is None else 0


# --- The program pages ---------------------------------------------------------------------------


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(
    ProgramReportPages,
    SimulationAdminMixin,
    ArchivingActions,
    ErrorSummaryAdmin,
    PlacesShownAdmin,
    ServiceSavedAdmin,
    ReadableHistoryAdmin,
    SimpleHistoryAdmin,
    ModelAdmin,
):
    form = ProgramForm
    inlines = [SettingsInline, EarningRuleInline, TierInline]
    list_display = (
        "name", "status", "archived", "starts_at", "ends_at", "members", "outstanding_points", "pending_points",
        "outstanding_value",
    )  # fmt: skip
    list_filter = ("status", "archived", "audience")
    search_fields = ("name",)
    date_hierarchy = "starts_at"
    autocomplete_fields = ("segments",)
    readonly_fields = (
        "liability",
        "accounts_link",
        "archived",
        "archived_at",
        "created_by",
        "created_at",
        "updated_at",
    )
    # Tabs (unfold): one part of the program at a time; settings, earning rules and tiers follow.
    fieldsets = (
        ("Basics", {"classes": ["tab"], "fields": ("name", "description", ("status", "priority", "currency"),
                                                  ("archived", "archived_at"))}),
        ("Schedule", {"classes": ["tab"], "fields": (("starts_at", "ends_at"), ("timezone", "weekdays"),
                                                    ("daily_start", "daily_end"))}),
        ("Audience & places", {"classes": ["tab"], "fields": (("audience", "segments"), "countries",
                                                             ("states", "cities"))}),
        ("Notification", {"classes": ["tab"], "fields": (("notify_title", "notify_channels"), "notify_body",
                                                        "notify_image_url", ("notify_cta_text", "notify_cta_url"))}),
        ("Members", {"classes": ["tab"], "fields": ("liability", "accounts_link")}),
        ("Record", {"classes": ["tab"], "fields": ("created_by", ("created_at", "updated_at"))}),
    )  # fmt: skip
    # Shown once the program exists.
    existing_only = frozenset(
        {"archived", "archived_at", "liability", "accounts_link", "created_by", "created_at", "updated_at"}
    )
    history_parts = (
        PartHistory("settings", ProgramSettings, lambda pk: ProgramSettings.history.filter(program_id=pk)),
        PartHistory("earning rule", EarningRule, lambda pk: EarningRule.history.filter(program_id=pk)),
        PartHistory("tier", Tier, lambda pk: Tier.history.filter(program_id=pk)),
    )
    actions = ["activate", "deactivate", "delete_or_archive"]
    # Deleting goes through campaign_delete (ArchivingActions): a program with members is archived.
    in_use_label = "members"
    erased_with = "its settings, earning rules and tiers"
    kept_with = "their accounts and points history"

    def in_use(self) -> Exists:
        return Exists(LoyaltyAccount.objects.filter(program=OuterRef("pk")))

    def row_switch(self, obj: Campaign, *, on: bool) -> None:
        campaign_status_set(campaign=obj, status=CampaignStatus.ACTIVE if on else CampaignStatus.INACTIVE)

    def row_delete(self, obj: Campaign) -> bool:
        return campaign_delete(campaign=obj)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, URLField):
            kwargs.setdefault("assume_scheme", "https")  # a URL typed without a scheme means https
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.places_in_words(request, obj, self.fieldsets)
        return without_fields(self.fieldsets, self.existing_only)

    def get_changeform_initial_data(self, request) -> dict[str, Any]:
        return {
            "starts_at": timezone.now().replace(second=0, microsecond=0),
            **super().get_changeform_initial_data(request),
        }

    def has_change_permission(self, request, obj=None) -> bool:
        # An archived program is kept for its members' history.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.archived)

    # --- The list and its liability ---------------------------------------------------------------

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Every program's figures in one grouped query: the summary above the list and the page's columns.
        figures = liability()
        for program in changelist.result_list:
            program.liability_figures = figures.get(program.pk, NO_MEMBERS)
        changelist.liability = liability_summary(figures)
        return changelist

    @staticmethod
    def _figures(obj: Campaign) -> dict:
        if hasattr(obj, "liability_figures"):
            return obj.liability_figures
        return liability([obj.pk]).get(obj.pk, NO_MEMBERS)  # a page showing one program

    @admin.display(description="members")
    def members(self, obj: Campaign) -> str:
        return f"{self._figures(obj)['members']:,}"

    @admin.display(description="pending points")
    def pending_points(self, obj: Campaign) -> str:
        return f"{self._figures(obj)['pending_points']:,}"

    @admin.display(description="outstanding points")
    def outstanding_points(self, obj: Campaign) -> str:
        return f"{self._figures(obj)['outstanding_points']:,}"

    @admin.display(description="outstanding value")
    def outstanding_value(self, obj: Campaign) -> str:
        return rupees(self._figures(obj)["outstanding_value"])

    @admin.display(description="liability")
    def liability(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "-"
        figures = self._figures(obj)
        return (
            f"{figures['members']:,} member(s) hold {figures['outstanding_points']:,} points, "
            f"worth {rupees(figures['outstanding_value'])}"
        )

    @admin.display(description="accounts")
    def accounts_link(self, obj: Campaign) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("admin:loyalty_loyaltyaccount_changelist") + f"?program__id__exact={obj.pk}"
        return format_html('<a href="{}">The members\' accounts and their points</a>', url)

    # --- Saving through the services ------------------------------------------------------------

    def service_save(self, request, obj: Campaign, form: ProgramForm, change: bool) -> Campaign:
        # The last part's formset ran program_check on this very data and left the parts on
        # the form; the service checks again inside its transaction and writes it all (the
        # settings, rules, tiers and segments: ServiceSavedAdmin.save_related writes nothing).
        checked = form.checked
        if checked is None:  # a part missing from the page: nothing was checked
            raise Invalid("program_unchecked", "The program's settings, rules and tiers were not all sent.")
        if change:
            return program_update(
                program=obj,
                settings=checked.settings,
                # Unchanged rules stay as they are (replacing them would re-create them).
                rules=checked.rules if checked.rules_changed else None,
                tiers=checked.tiers,
                segment_ids=form.segment_ids(),
                **form.service_fields(),
            )
        return program_create(
            settings=checked.settings,
            rules=checked.rules,
            tiers=checked.tiers,
            segment_ids=form.segment_ids(),
            created_by=request.user,
            **form.service_fields(),
        )

    def construct_change_message(self, request, form, formsets, add=False):
        if add:
            return [{"added": {}}]
        fields = [str(form.fields[name].label or name) for name in form.changed_data]
        fields += [formset.part for formset in formsets if formset.has_changed()]
        return [{"changed": {"fields": fields}}] if fields else []

    # --- History: shown, never reverted (a revert would write around the services) --------------

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
