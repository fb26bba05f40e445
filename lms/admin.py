"""Console helpers shared by the apps' admin modules."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Exists, Model, QuerySet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property

from lms.errors import DomainError
from lms.form_fields import COUNTRY_NAMES
from lms.forms import console_styled

# Below this many rows an exact count is cheap enough.
ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """An unfiltered list of a big PostgreSQL table counts from the planner's statistics
    (``pg_class.reltuples``) instead of ``COUNT(*)``, which reads the whole table."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [connection.ops.quote_name(queryset.model._meta.db_table)],
                    )
                    row = cursor.fetchone()
                if row and row[0] > ESTIMATE_ABOVE:
                    return int(row[0])
        return super().count


class ReadOnlyAdminMixin:
    """Mirrored or append-only data: the console shows it and never edits it."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def superuser(request) -> bool:
    """An active superuser: who alone opens the console's System section."""
    return request.user.is_active and request.user.is_superuser


class SuperuserOnlyAdmin:
    """The console's System section (sign-in codes, tokens, login events, API keys, groups):
    superusers only, whatever permissions a staff account was given."""

    def has_module_permission(self, request) -> bool:
        return superuser(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return superuser(request) and super().has_delete_permission(request, obj)


NAMES_SHOWN = 10


def names_shown(names: list[str], most: int = NAMES_SHOWN) -> str:
    """A message's list of names, cut short past ``most``."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


# --- Saving through the services -----------------------------------------------------------------


class ServiceRefused(Exception):
    """The service refused a save the form had just checked (a concurrent change, such as a
    code taken meanwhile); raised out of the admin's transaction so nothing stays written."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


class ServiceSavedAdmin:
    """An admin whose add/change form saves through a service (mixed in before ModelAdmin).

    ``service_save`` writes the row (and what the form's inlines and many-to-many hold) and
    answers it; a refusal rolls the admin's transaction back and the page says why. The form's
    own checks are the service's (``lms.forms.ServiceCheckedModelForm``, ``error_paths``), so
    a refusal here is a race lost since the form was checked."""

    def service_save(self, request, obj: Model, form, change: bool) -> Model:
        raise NotImplementedError

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:  # the admin's transaction has rolled back
            self.message_user(request, f"Nothing was saved: {refused.error.message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj: Model, form, change: bool) -> None:
        try:
            saved = self.service_save(request, obj, form, change)
        except DomainError as error:
            raise ServiceRefused(error) from error
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change) -> None:
        """Nothing: the service wrote the related rows (the inlines and the form's many-to-many
        would write them a second time)."""


# --- Switch on/off and delete-or-archive, through the services -----------------------------------


class ArchivingActions:
    """Switch on/off and delete-or-archive through an app's services (mixed in before
    ModelAdmin): a row in use (``in_use``) is archived instead of erased, and the pages and
    messages say so. The admin names the services: ``row_switch(obj, on=...)`` and
    ``row_delete(obj)``, which answers True when it archived instead."""

    in_use_label = "history"  # "it has <in_use_label>"
    erased_with = "what it holds"
    kept_with = "its history"

    def in_use(self) -> Exists:
        raise NotImplementedError

    def row_switch(self, obj: Model, *, on: bool) -> None:
        raise NotImplementedError

    def row_delete(self, obj: Model) -> bool:
        raise NotImplementedError

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would erase rows with history: see delete_or_archive
        return actions

    def _each(self, request, queryset, call: Callable[[Model], Any], done: str) -> None:
        succeeded, failed = [], []
        for row in queryset.order_by("pk"):
            try:
                call(row)
            except (DomainError, ObjectDoesNotExist) as error:
                failed.append(f"{row}: {getattr(error, 'message', 'it no longer exists.')}")
            else:
                succeeded.append(str(row))
        if succeeded:
            self.message_user(request, f"{done}: {names_shown(succeeded)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not done for {names_shown(failed)}", messages.ERROR)

    @admin.action(description="Switch on the selected %(verbose_name_plural)s", permissions=["change"])
    def activate(self, request, queryset) -> None:
        self._each(request, queryset, lambda row: self.row_switch(row, on=True), "Switched on")

    @admin.action(description="Switch off the selected %(verbose_name_plural)s", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        self._each(request, queryset, lambda row: self.row_switch(row, on=False), "Switched off")

    def _action_page(self, request, template: str, title: str, rows: list[Model], **context) -> TemplateResponse:
        """An action's page of its own (``template`` extends ``admin/lms/action_base.html``)."""
        if context.get("form") is not None:
            console_styled(context["form"])
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "subtitle": None,
                "opts": self.opts,
                "rows": rows,
                "action": request.POST.get("action", ""),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                **context,
            },
        )

    @admin.action(
        description="Delete the selected %(verbose_name_plural)s (archive those with history)", permissions=["delete"]
    )
    def delete_or_archive(self, request, queryset):
        rows = list(queryset.annotate(in_use=self.in_use()).order_by("pk"))
        if request.POST.get("post") != "yes":
            return self._action_page(
                request, "admin/lms/delete_or_archive.html", f"Delete or archive {self.opts.verbose_name_plural}",
                rows, noun=self.opts.verbose_name, in_use_label=self.in_use_label, erased_with=self.erased_with,
                kept_with=self.kept_with,
            )  # fmt: skip
        deleted, archived, failed = [], [], []
        for row in rows:
            try:
                (archived if self.row_delete(row) else deleted).append(str(row))
            except (DomainError, ObjectDoesNotExist) as error:
                failed.append(f"{row}: {getattr(error, 'message', 'it no longer exists.')}")
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

    def delete_model(self, request, obj: Model) -> None:
        request.row_archived = self.row_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            self.row_delete(row)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "row_archived", False):
            self.message_user(
                request, f"“{obj_display}” has {self.in_use_label}: it was archived, not deleted.", messages.WARNING
            )
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return super().response_delete(request, obj_display, obj_id)


# --- A refused form's errors, listed at the top --------------------------------------------------


class ErrorSummaryAdmin:
    """A change form that was refused lists every error at the top of the page, named by the
    field's label (and the row of an inline), besides showing each on its field: a long form's
    errors may sit in a tab or a row out of sight."""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        adminform = context.get("adminform")
        if request.method == "POST" and adminform is not None and adminform.form.is_bound:
            lines = _error_lines(adminform.form, "")
            for inline in context.get("inline_admin_formsets") or ():
                formset = inline.formset
                lines += [f"{formset.model._meta.verbose_name_plural}: {e}" for e in formset.non_form_errors()]
                for number, form in enumerate(formset.forms, start=1):
                    lines += _error_lines(form, f"{formset.model._meta.verbose_name} {number}, ")
            if lines:
                context["error_summary"] = lines
                self.message_user(request, "Nothing was saved. " + " · ".join(lines), messages.ERROR)
        return super().render_change_form(request, context, add, change, form_url, obj)


def _error_lines(form, prefix: str) -> list[str]:
    lines = []
    for name, errors in form.errors.items():
        label = "" if name == "__all__" or name not in form.fields else f"{form.fields[name].label or name}: "
        lines += [f"{prefix}{label}{error}" for error in errors]
    return lines


def without_fields(fieldsets, names: frozenset[str]) -> list:
    """The fieldsets less the fields ``names`` (inside grouped lines too); a fieldset left
    empty is dropped (an add page leaves out what exists only once the row does)."""
    kept = []
    for title, options in fieldsets:
        lines = []
        for line in options["fields"]:
            if isinstance(line, list | tuple):
                line = tuple(name for name in line if name not in names)
                if len(line) == 1:
                    line = line[0]
            if line and line not in names:
                lines.append(line)
        if lines:
            kept.append((title, {**options, "fields": tuple(lines)}))
    return kept


# --- Read-only pages show places in words ---------------------------------------------------------


def _places_text(codes: list[str] | None, names: dict[str, str], anywhere: str) -> str:
    return ", ".join(names.get(code, code) for code in codes or ()) or anywhere


class PlacesShownAdmin:
    """A page the user may only view (an Analyst's, an archived row's) shows the countries by
    name ("India", not ``["IN"]``) and the states and cities as a list, not the stored JSON."""

    places_shown = {"countries": "countries_shown", "states": "states_shown", "cities": "cities_shown"}

    def places_in_words(self, request, obj, fieldsets):
        """``fieldsets`` as the page shows them: for a page the user may only view, the places
        fields' read-only displays instead (the admin's ``get_fieldsets`` answers this)."""
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        renamed = []
        for title, options in fieldsets:
            lines = [
                tuple(self.places_shown.get(n, n) for n in line)
                if isinstance(line, list | tuple)
                else self.places_shown.get(line, line)
                for line in options["fields"]
            ]
            renamed.append((title, {**options, "fields": tuple(lines)}))
        return renamed

    @admin.display(description="Countries")
    def countries_shown(self, obj) -> str:
        return _places_text(obj.countries, COUNTRY_NAMES, "Anywhere")

    @admin.display(description="States")
    def states_shown(self, obj) -> str:
        return _places_text(obj.states, {}, "Any state")

    @admin.display(description="Cities")
    def cities_shown(self, obj) -> str:
        return _places_text(obj.cities, {}, "Any city")
