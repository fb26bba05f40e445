"""The campaign list's actions: each one calls a service per selected campaign and says what
happened to which; generate codes and delete ask first on a page of their own. Switch on/off and
delete-or-archive are ``lms.admin.ArchivingActions`` over the campaigns services."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef

from campaigns.forms import CodeAssignForm, CodeGenerateForm
from campaigns.models import Campaign, CampaignStatus, Redemption
from campaigns.services.campaigns import campaign_delete, campaign_duplicate, campaign_status_set
from campaigns.services.code_assignment import codes_assign_segment
from campaigns.services.codes import EXPORT_COLUMNS, codes_for_export, codes_generate
from lms.admin import ArchivingActions
from lms.api.csv import csv_response
from lms.errors import DomainError
from lms.forms import error_paths


class CampaignRowActions(ArchivingActions):
    """Switch on/off and delete-or-archive through the campaigns services, for an admin of
    campaign rows (discount campaigns, loyalty programs)."""

    in_use_label = "redemptions"
    erased_with = "its rules and codes"

    def in_use(self) -> Exists:
        return Exists(Redemption.objects.filter(campaign=OuterRef("pk")))

    def row_switch(self, obj: Campaign, *, on: bool) -> None:
        campaign_status_set(campaign=obj, status=CampaignStatus.ACTIVE if on else CampaignStatus.INACTIVE)

    def row_delete(self, obj: Campaign) -> bool:
        return campaign_delete(campaign=obj)


class CampaignActions(CampaignRowActions):
    """The actions of CampaignAdmin (mixed in; it lists them in ``actions``)."""

    @admin.action(description="Duplicate the selected campaigns (as switched-off copies)", permissions=["add"])
    def duplicate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_duplicate(campaign=campaign, created_by=request.user),
            "Duplicated (switched off, without codes)",
        )

    @admin.action(description="Generate unique codes for the selected campaigns…", permissions=["change"])
    def generate_codes(self, request, queryset):
        campaigns = list(queryset.order_by("pk"))
        form = CodeGenerateForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            made, failed = [], []
            for campaign in campaigns:
                try:
                    batch = codes_generate(campaign=campaign, **form.cleaned_data)
                except DomainError as error:
                    if len(campaigns) == 1:  # a single campaign: the message goes on the field
                        for name, message in error_paths(error):
                            form.add_error(name if name in form.fields else None, message)
                    failed.append(f"{campaign}: {error.message}")
                else:
                    sample = ", ".join(batch.sample[:3])
                    made.append(f"{batch.count:,} for {campaign} (batch {batch.batch}; such as {sample})")
            if not form.errors:
                if made:
                    self.message_user(request, f"Generated codes: {'; '.join(made)}.", messages.SUCCESS)
                for failure in failed:
                    self.message_user(request, f"No codes generated for {failure}", messages.ERROR)
                return None
        return self._action_page(
            request, "admin/campaigns/campaign/generate_codes.html", "Generate unique codes", campaigns, form=form
        )

    @admin.action(description="Assign codes to a segment (each member their own code)…", permissions=["change"])
    def assign_codes(self, request, queryset):
        campaigns = list(queryset.order_by("pk"))
        form = CodeAssignForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            segment = form.cleaned_data["segment"]
            for campaign in campaigns:
                try:
                    result = codes_assign_segment(campaign=campaign, segment=segment)
                except DomainError as error:
                    self.message_user(request, f"No codes given for {campaign}: {error.message}", messages.ERROR)
                    continue
                text = (
                    f"{campaign} to {segment}: {result.assigned:,} customer(s) given a code, "
                    f"{result.already_held:,} already held one"
                )
                if result.short:
                    self.message_user(
                        request,
                        f"{text}; {result.short:,} left without one: no free code was left. Generate or import "
                        "more codes, then assign again (nobody gets a second code).",
                        messages.WARNING,
                    )
                else:
                    self.message_user(request, f"{text}.", messages.SUCCESS)
            return None
        return self._action_page(
            request, "admin/campaigns/campaign/assign_codes.html", "Assign codes to a segment", campaigns, form=form
        )

    @admin.action(description="Export the selected campaign's codes (CSV)", permissions=["view"])
    def export_codes(self, request, queryset):
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Select one campaign to export its codes.", messages.ERROR)
            return None
        campaign = campaigns[0]
        return csv_response(EXPORT_COLUMNS, codes_for_export(campaign), filename=f"campaign-{campaign.pk}-codes.csv")
