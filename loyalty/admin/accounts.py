"""Loyalty accounts and the points ledger: read-only lists (the ledger is append-only; balances
move only with it), and "Adjust points", the one write, through ``points_adjust``."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from lms.admin import EstimatedCountPaginator, ReadOnlyAdminMixin, names_shown
from lms.errors import DomainError
from lms.forms import console_styled
from loyalty.admin.programs import rupees
from loyalty.engine import points_value
from loyalty.forms import PointsAdjustForm
from loyalty.models import LoyaltyAccount, LoyaltyProgram, PointsTransaction, ProgramSettings, Tier
from loyalty.selectors import pending_q
from loyalty.services.ledger import points_adjust

LATEST = 50  # transactions shown on an account's page; the rest are one link away


class ProgramFilter(admin.RelatedFieldListFilter):
    """The loyalty programs to filter by (not every campaign), in one query."""

    def field_choices(self, field, request, model_admin):
        return list(LoyaltyProgram.objects.order_by("name", "pk").values_list("pk", "name"))


class TierFilter(admin.RelatedFieldListFilter):
    """Tiers named with their program: two programs may both have a Gold."""

    def field_choices(self, field, request, model_admin):
        tiers = Tier.objects.order_by("program__name", "program_id", "threshold")
        return [(pk, f"{program}: {name}") for pk, name, program in tiers.values_list("pk", "name", "program__name")]


def customer_search(term: str, customer: str) -> Q:
    """Exact matches on the customer's indexed columns (emails are stored lower-case)."""
    return Q(**{f"{customer}__email": term.lower()}) | Q(**{f"{customer}__external_id": term})


# --- Accounts ------------------------------------------------------------------------------------


class LatestTransactionsFormSet(BaseInlineFormSet):
    """The account's latest transactions only (an account may have years of them)."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:LATEST]
        return self._latest


class TransactionInline(ReadOnlyAdminMixin, TabularInline):
    model = PointsTransaction
    formset = LatestTransactionsFormSet
    fields = (
        "occurred_at", "kind", "points", "balance_after", "remaining", "available_at", "expires_at", "source",
        "reference", "reason", "created_by",
    )  # fmt: skip
    readonly_fields = fields
    extra = 0
    verbose_name_plural = f"latest transactions (newest first, at most {LATEST})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").order_by("-id")


@admin.register(LoyaltyAccount)
class LoyaltyAccountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "customer", "program", "balance", "pending_points", "balance_value", "lifetime_earned", "tier", "streak_days",
    )  # fmt: skip
    list_select_related = ("customer", "program__loyalty_settings", "tier")
    list_filter = (("program", ProgramFilter), ("tier", TierFilter))
    search_fields = ("customer__email", "customer__external_id")
    search_help_text = "The exact customer email or external id."
    fields = (
        "customer", "program", "balance", "pending_points", "balance_value", "lifetime_earned", "tier", "tier_since",
        "streak_days", "streak_last_day", "transactions_link", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [TransactionInline]
    actions = ["adjust_points"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(customer_search(term, "customer")) if term else queryset), False

    def get_queryset(self, request):
        # Pending points in the same query as the page's rows (a subquery per row, on the held-lots index).
        held = (
            PointsTransaction.objects.filter(pending_q(timezone.now()), account=OuterRef("pk"))
            .order_by()
            .values("account")
            .annotate(points=Sum("remaining"))
            .values("points")
        )
        return super().get_queryset(request).annotate(pending=Coalesce(Subquery(held), 0))

    @admin.display(description="pending points", ordering="pending")
    def pending_points(self, obj: LoyaltyAccount) -> str:
        """Of the balance, points earned on orders still inside the program's hold (not spendable yet)."""
        return f"{obj.pending:,}"

    def has_adjust_permission(self, request) -> bool:
        # Adjusting writes the ledger: whoever may change accounts (the balance is never edited by hand).
        return request.user.has_perm("loyalty.change_loyaltyaccount")

    @admin.display(description="balance value")
    def balance_value(self, obj: LoyaltyAccount) -> str:
        try:
            point_value = obj.program.loyalty_settings.point_value
        except ProgramSettings.DoesNotExist:
            return "-"
        return rupees(points_value(obj.balance, point_value))

    @admin.display(description="transactions")
    def transactions_link(self, obj: LoyaltyAccount) -> str:
        count = PointsTransaction.objects.filter(account=obj).count()
        url = reverse("admin:loyalty_pointstransaction_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">All {} transaction(s)</a>', url, f"{count:,}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {"may_adjust": self.has_adjust_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- Adjust points ---------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="loyalty_loyaltyaccount_adjust",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Adjust points of the selected accounts…", permissions=["adjust"])
    def adjust_points(self, request, queryset):
        accounts = list(queryset.select_related("customer", "program").order_by("pk"))
        form = PointsAdjustForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._adjust(request, accounts, form)
            return None
        return self._adjust_page(request, accounts, form, action=request.POST.get("action", ""))

    def adjust_view(self, request, object_id: str):
        """The same adjustment for the one account whose page links here."""
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None:
            self.message_user(request, f"No loyalty account with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:loyalty_loyaltyaccount_changelist"))
        form = PointsAdjustForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            self._adjust(request, [account], form)
            return HttpResponseRedirect(reverse("admin:loyalty_loyaltyaccount_change", args=[account.pk]))
        return self._adjust_page(request, [account], form, original=account)

    def _adjust(self, request, accounts: list[LoyaltyAccount], form: PointsAdjustForm) -> None:
        points, done, failed = form.cleaned_data["points"], [], []
        for account in accounts:
            label = f"{account.customer} in {account.program}"
            try:
                row = points_adjust(
                    customer=account.customer,
                    program_id=account.program_id,
                    points=points,
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    idempotency_key=form.idempotency_key(),
                )
            except DomainError as error:
                failed.append(f"{label}: {error.message}")
            else:
                done.append(f"{label} (balance now {row.balance_after:,})")
        if done:
            self.message_user(request, f"Adjusted by {points:+,} points: {names_shown(done)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not adjusted: {names_shown(failed)}", messages.ERROR)

    def _adjust_page(self, request, accounts, form, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/loyalty/loyaltyaccount/adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": "Adjust points",
                "subtitle": None,
                "opts": self.opts,
                "accounts": accounts,
                "form": console_styled(form),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                **context,
            },
        )


# --- The ledger ----------------------------------------------------------------------------------


@admin.register(PointsTransaction)
class PointsTransactionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "occurred_at", "customer", "program", "kind", "points", "balance_after", "source", "reference", "reason",
        "created_by",
    )  # fmt: skip
    list_select_related = ("account__customer", "account__program", "created_by")
    list_filter = ("kind", "source", ("account__program", ProgramFilter))
    search_fields = ("reference", "account__customer__email")
    search_help_text = "The exact reference (an order id), or the customer's email or external id."
    date_hierarchy = "occurred_at"
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(reference=term) | customer_search(term, "account__customer")), False

    @admin.display(description="customer", ordering="account__customer__email")
    def customer(self, obj: PointsTransaction):
        return obj.account.customer

    @admin.display(description="program", ordering="account__program__name")
    def program(self, obj: PointsTransaction):
        return obj.account.program
