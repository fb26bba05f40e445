"""The campaign list's actions: each one calls a service per selected campaign and says what
happened to which; generate codes and delete ask first on a page of their own."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from campaigns.forms import CodeAssignForm, CodeGenerateForm, error_paths
from campaigns.models import Campaign, CampaignStatus, Redemption
from campaigns.services.campaigns import campaign_delete, campaign_duplicate, campaign_status_set
from campaigns.services.code_assignment import codes_assign_segment
from campaigns.services.codes import EXPORT_COLUMNS, codes_for_export, codes_generate
from lms.api.csv import csv_response
from lms.errors import DomainError

NAMES_SHOWN = 10


def names_shown(names: list[str], most: int = NAMES_SHOWN) -> str:
    """A message's list of names, cut short past ``most``."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class ArchivingActions:
    """Switch on/off and delete-or-archive through the campaigns services, for an admin of
    campaign rows (discount campaigns, loyalty programs): a row in use (``in_use``) is
    archived instead of erased, and the pages and messages say so."""

    in_use_label = "redemptions"  # "it has <in_use_label>"
    erased_with = "its rules and codes"
    kept_with = "its history"

    def in_use(self) -> Exists:
        return Exists(Redemption.objects.filter(campaign=OuterRef("pk")))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would erase rows with history: see delete_or_archive
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
            self.message_user(request, f"{done}: {names_shown(succeeded)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not done for {names_shown(failed)}", messages.ERROR)

    @admin.action(description="Switch on the selected %(verbose_name_plural)s", permissions=["change"])
    def activate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_status_set(campaign=campaign, status=CampaignStatus.ACTIVE),
            "Switched on",
        )

    @admin.action(description="Switch off the selected %(verbose_name_plural)s", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda campaign: campaign_status_set(campaign=campaign, status=CampaignStatus.INACTIVE),
            "Switched off",
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

    @admin.action(
        description="Delete the selected %(verbose_name_plural)s (archive those with history)", permissions=["delete"]
    )
    def delete_or_archive(self, request, queryset):
        campaigns = list(queryset.annotate(in_use=self.in_use()).order_by("pk"))
        plural = self.opts.verbose_name_plural
        if request.POST.get("post") != "yes":
            return self._action_page(
                request, "delete_or_archive.html", f"Delete or archive {plural}", campaigns,
                noun=self.opts.verbose_name, in_use_label=self.in_use_label, erased_with=self.erased_with,
                kept_with=self.kept_with,
            )  # fmt: skip
        deleted, archived, failed = [], [], []
        for campaign in campaigns:
            try:
                (archived if campaign_delete(campaign=campaign) else deleted).append(str(campaign))
            except (DomainError, Campaign.DoesNotExist) as error:
                failed.append(f"{campaign}: {getattr(error, 'message', 'it no longer exists.')}")
        if deleted:
            self.message_user(request, f"Deleted: {names_shown(deleted)}.", messages.SUCCESS)
        if archived:
            self.message_user(
                request,
                f"Archived, not deleted (they have {self.in_use_label}): {names_shown(archived)}.",
                messages.WARNING,
            )
        if failed:
            self.message_user(request, f"Not done for {names_shown(failed)}", messages.ERROR)
        return None

    # The delete page of one row goes through the service too.

    def get_deleted_objects(self, objs, request):
        """What deleting means here: a row in use is archived, not erased (and what it holds is
        not listed one by one: a campaign may have a million codes)."""
        rows = list(objs)
        used = set(
            self.model.objects.filter(pk__in=[row.pk for row in rows])
            .annotate(used=self.in_use())
            .filter(used=True)
            .values_list("pk", flat=True)
        )
        described = [
            f"{row}: it has {self.in_use_label}, so it will be archived (switched off, kept with {self.kept_with})"
            if row.pk in used
            else f"{row}, with {self.erased_with}"
            for row in rows
        ]
        return described, {self.opts.verbose_name_plural: len(rows)}, set(), []

    def delete_model(self, request, obj: Campaign) -> None:
        request.campaign_archived = campaign_delete(campaign=obj)

    def delete_queryset(self, request, queryset) -> None:
        for campaign in queryset:
            campaign_delete(campaign=campaign)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "campaign_archived", False):
            self.message_user(
                request, f"“{obj_display}” has {self.in_use_label}: it was archived, not deleted.", messages.WARNING
            )
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return super().response_delete(request, obj_display, obj_id)


class CampaignActions(ArchivingActions):
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
        return self._action_page(request, "generate_codes.html", "Generate unique codes", campaigns, form=form)

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
        return self._action_page(request, "assign_codes.html", "Assign codes to a segment", campaigns, form=form)

    @admin.action(description="Export the selected campaign's codes (CSV)", permissions=["view"])
    def export_codes(self, request, queryset):
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Select one campaign to export its codes.", messages.ERROR)
            return None
        campaign = campaigns[0]
        return csv_response(EXPORT_COLUMNS, codes_for_export(campaign), filename=f"campaign-{campaign.pk}-codes.csv")
