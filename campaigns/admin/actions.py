"""The campaign list's actions: each one calls a service per selected campaign and says what
happened to which; generate codes and delete ask first on a page of their own."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse

from campaigns.forms import CodeGenerateForm, error_paths
from campaigns.models import Campaign, CampaignStatus, Redemption
from campaigns.services.campaigns import campaign_delete, campaign_duplicate, campaign_status_set
from campaigns.services.codes import EXPORT_COLUMNS, codes_for_export, codes_generate
from lms.api.csv import csv_lines
from lms.errors import DomainError

NAMES_SHOWN = 10


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


class CampaignActions:
    """The actions of CampaignAdmin (mixed in; it lists them in ``actions``)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would erase campaigns with history: see delete_or_archive
        return actions

    def _each(self, request, queryset, call: Callable[[Campaign], Any], done: str) -> None:
        succeeded, failed = [], []
        for campaign in queryset.order_by("pk"):
            try:
                call(campaign)
            except (DomainError, Campaign.DoesNotExist) as error:
                failed.append(f"{campaign}: {getattr(error, 'message', 'it no longer exists.')}")
            else:
                succeeded.append(str(campaign))
        if succeeded:
            self.message_user(request, f"{done}: {_names(succeeded)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not done for {_names(failed)}", messages.ERROR)

    @admin.action(description="Switch on the selected campaigns", permissions=["change"])
    def activate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_status_set(campaign=campaign, status=CampaignStatus.ACTIVE),
            "Switched on",
        )

    @admin.action(description="Switch off the selected campaigns", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_status_set(campaign=campaign, status=CampaignStatus.INACTIVE),
            "Switched off",
        )

    @admin.action(description="Duplicate the selected campaigns (as switched-off copies)", permissions=["add"])
    def duplicate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_duplicate(campaign=campaign, created_by=request.user),
            "Duplicated (switched off, without codes)",
        )

    def _action_page(
        self, request, template: str, title: str, campaigns: list[Campaign], **context
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/campaigns/campaign/{template}",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "subtitle": None,
                "opts": self.opts,
                "campaigns": campaigns,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                **context,
            },
        )

    @admin.action(description="Delete the selected campaigns (archive those with redemptions)", permissions=["delete"])
    def delete_or_archive(self, request, queryset):
        campaigns = list(
            queryset.annotate(redeemed=Exists(Redemption.objects.filter(campaign=OuterRef("pk")))).order_by("pk")
        )
        if request.POST.get("post") != "yes":
            return self._action_page(request, "delete_or_archive.html", "Delete or archive campaigns", campaigns)
        deleted, archived, failed = [], [], []
        for campaign in campaigns:
            try:
                (archived if campaign_delete(campaign=campaign) else deleted).append(str(campaign))
            except (DomainError, Campaign.DoesNotExist) as error:
                failed.append(f"{campaign}: {getattr(error, 'message', 'it no longer exists.')}")
        if deleted:
            self.message_user(request, f"Deleted: {_names(deleted)}.", messages.SUCCESS)
        if archived:
            self.message_user(
                request,
                f"Archived, not deleted (they have redemptions, kept for their history): {_names(archived)}.",
                messages.WARNING,
            )
        if failed:
            self.message_user(request, f"Not done for {_names(failed)}", messages.ERROR)
        return None

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
        return self._action_page(request, "generate_codes.html", "Generate unique codes", campaigns, form=form)

    @admin.action(description="Export the selected campaign's codes (CSV)", permissions=["view"])
    def export_codes(self, request, queryset):
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Select one campaign to export its codes.", messages.ERROR)
            return None
        campaign = campaigns[0]
        response = StreamingHttpResponse(
            csv_lines(EXPORT_COLUMNS, codes_for_export(campaign)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-codes.csv"'
        return response
