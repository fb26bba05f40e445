"""The console's loyalty forms.

A program is checked as one by ``program_check``, the API's own checks: the program form (the
fields every campaign has), its settings row, its earning rule rows and its tier rows. The
three inline formsets are validated after the program form (``ModelAdmin._changeform_view``);
each hands its rows to the program form as it is cleaned, and the last one runs the check and
puts each message on the field its path names: ``rules[0].points_per_rupee`` -> rule row 0,
``tiers[1].threshold`` -> tier row 1, ``point_value`` -> the settings row, ``timezone`` -> the
program form. Saving then goes through the services (``LoyaltyProgramAdmin.save_model``).
"""

import copy
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.models import BaseInlineFormSet

from campaigns.models import WEEKDAYS, Campaign, Channel
from commerce.selectors import known_places
from lms import forms as lms_forms
from lms.errors import DomainError
from lms.form_fields import show_fields_by_type
from lms.forms import ServiceCheckedModelForm, error_on_field, error_paths
from loyalty.form_parts import RULE_HELP, earning_rule_fields, program_words, streak_steps_field
from loyalty.models import EarningRule, LoyaltyProgram, ProgramSettings, Tier
from loyalty.services.messages import ALLOWED, DEFAULTS, MAX_EXPIRING_DAYS
from loyalty.services.programs import (
    MAX_HOLD_DAYS,
    RULE_FIELDS,
    SETTINGS_DEFAULTS,
    SETTINGS_FIELDS,
    program_check,
)

PARTS = ("settings", "rules", "tiers")
# A service path names the API's field; the console's form may call it differently.
FORM_FIELD_FOR_PATH = {
    "segment_ids": "segments",
    "category_ids": "categories",
    **lms_forms.group_paths(Campaign, "notification", "notify_"),
}
ROW_PATH = re.compile(r"^(?P<part>rules|tiers)\[(?P<index>\d+)\](?:\.(?P<field>\w+)(?P<rest>.*))?$")
MAX_POINTS = 1_000_000_000
MAX_RULES, MAX_TIERS = 50, 20
TIER_KEYS = ("name", "threshold", "multiplier", "benefits")

# The API serializers' bounds (loyalty/api/serializers.py), so both faces refuse the same input.
# (The models' positive fields already refuse what is below zero.)
SETTINGS_MAX = {
    "min_redeem_points": MAX_POINTS, "expiry_days": 36500, "tier_window_days": 3650,
    "hold_days": MAX_HOLD_DAYS, "return_window_days": MAX_HOLD_DAYS, "points_expiring_days": MAX_EXPIRING_DAYS,
}  # fmt: skip
HOLD_DAY_FIELDS = ("hold_days", "return_window_days")
RULE_MAX = {"bonus_points": MAX_POINTS, "base_points": MAX_POINTS}
PROGRAM_BOUNDS = {"priority": (-1000, 1000)}


def _at_most(form: forms.Form, bounds: dict[str, int]) -> None:
    for name, high in bounds.items():
        form.fields[name].validators.append(MaxValueValidator(high))
        form.fields[name].widget.attrs["max"] = high


@dataclass(frozen=True)
class CheckedProgram:
    """What ``program_check`` accepted: the services' arguments."""

    settings: dict[str, Any]
    rules: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    rules_changed: bool


class ProgramForm(lms_forms.PlacesForm, ServiceCheckedModelForm):
    """The program's campaign row: the fields every campaign has, as the model makes them."""

    weekdays = lms_forms.weekdays_field(WEEKDAYS)
    notify_channels = lms_forms.channels_field(Channel.choices, label="Notify channels")

    class Meta:
        model = LoyaltyProgram
        formfield_callback = lms_forms.https_urls
        field_classes = {"currency": lms_forms.CurrencyField}
        fields = [
            "name", "description", "status", "priority", "currency",
            "starts_at", "ends_at", "timezone", "weekdays", "daily_start", "daily_end",
            "audience", "segments", "countries", "states", "cities",
            "notify_title", "notify_body", "notify_image_url", "notify_cta_text", "notify_cta_url", "notify_channels",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The part formsets, validated after this form, find it through the instance.
        self.instance.console_form = self
        lms_forms.bound_fields(self, PROGRAM_BOUNDS)
        self.offer_places(known_places())
        if "description" in self.fields:  # a short box: the page stays short
            self.fields["description"].widget.attrs["rows"] = 2
        self.parts: dict[str, ProgramPartFormSet] = {}
        self.checked: CheckedProgram | None = None

    def service_fields(self) -> dict[str, Any]:
        """The program's columns on this form, as the instance holds them after cleaning."""
        return lms_forms.form_columns(self)

    def segment_ids(self) -> list[int] | None:
        return lms_forms.picked_ids(self, "segments")

    def notify_changed(self) -> bool:
        """A new program's content is checked, and a change of it (not old content on an unrelated edit)."""
        return self.instance.pk is None or any(name.startswith("notify_") for name in self.changed_data)

    def check_parts(self, checking: "ProgramPartFormSet") -> None:
        """``program_check`` on the program as it would be saved, once every part has been
        cleaned; each message goes on its field. Raises for ``checking`` (the part cleaned
        last) when a message landed outside its rows: the parts cleaned before it have
        answered already, so only an invalid ``checking`` stops the save."""
        self.parts[checking.part] = checking
        if set(self.parts) != set(PARTS):
            return
        settings, rules, tiers = (self.parts[part].values() for part in PARTS)
        state = {f.name: getattr(self.instance, f.name) for f in Campaign._meta.concrete_fields if not f.primary_key}
        state.pop("created_by")
        try:
            program_check(
                fields=state,
                # With a bad row the rest is still checked (None skips the rules or the tiers).
                settings=dict(settings if settings is not None else SETTINGS_DEFAULTS),
                rules=copy.deepcopy(rules),  # the check normalises in place; the service will again
                tiers=copy.deepcopy(tiers),
                segment_ids=self.segment_ids(),
                notify_changed=self.notify_changed(),
            )
        except DomainError as error:
            own = self._place(error, checking)
            if own:
                raise ValidationError(own)
            return
        if settings is not None and rules is not None and tiers is not None:
            self.checked = CheckedProgram(settings, rules, tiers, rules_changed=self.parts["rules"].has_changed())

    def _place(self, error: DomainError, checking: "ProgramPartFormSet") -> list[str]:
        """Put each message on the field its path names; answers the messages for ``checking``
        itself (with a word about the others when some landed elsewhere)."""
        own: list[str] = []
        elsewhere = False

        def on_part(formset: ProgramPartFormSet, text: str) -> None:
            nonlocal elsewhere
            if formset is checking:
                own.append(text)
            else:
                formset.non_form_errors().append(text)
                elsewhere = True

        settings_form = self.parts["settings"].forms[0] if self.parts["settings"].forms else None
        for path, message in error_paths(error):
            message = program_words(message)
            match = ROW_PATH.match(path)
            rows = self.parts[match["part"]].rows() if match else []
            if path in ("rules", "tiers"):  # the part as a whole, such as "no rules"
                on_part(self.parts[path], message)
            elif match and int(match["index"]) >= len(rows):  # not a row on the page
                on_part(self.parts[match["part"]], program_words(f"{path}: {message}"))
            elif match:
                form = rows[int(match["index"])]
                error_on_field(
                    form, match["field"] or "", message, rest=match["rest"] or "", names=FORM_FIELD_FOR_PATH,
                    words=program_words,
                )  # fmt: skip
                elsewhere = elsewhere or self.parts[match["part"]] is not checking
            elif settings_form is not None and path in settings_form.fields:
                settings_form.add_error(path, message)
                elsewhere = elsewhere or checking.part != "settings"
            else:
                error_on_field(self, path, message, names=FORM_FIELD_FOR_PATH)
                elsewhere = True
        if elsewhere:
            own.append("Nothing was saved: see the errors marked on the page.")
        return own


class ProgramPartFormSet(BaseInlineFormSet):
    """One part of a program (its settings, rules or tiers); its ``clean`` hands the rows to the
    program form, which checks the whole program once every part is in (see the module doc)."""

    part = ""

    def rows(self) -> list[forms.ModelForm]:
        """The rows that make the part, in order: not ticked for deletion, not an untouched extra row."""
        return [
            form
            for form in self.forms
            if not (self.can_delete and form.cleaned_data.get("DELETE"))
            and (form.instance.pk is not None or form.has_changed())
        ]

    def values(self) -> Any:
        """The service's argument for this part; None when a row is bad."""
        rows = self.rows()
        if any(form.errors for form in rows):
            return None
        return [form.value() for form in rows]

    def validate_unique(self) -> None:
        """Skipped: ``program_check`` judges duplicate tiers, in the API's words."""

    def clean(self) -> None:
        super().clean()
        program_form = getattr(self.instance, "console_form", None)
        if program_form is not None and not program_form.errors:
            program_form.check_parts(self)


class SettingsFormSet(ProgramPartFormSet):
    part = "settings"

    def values(self) -> dict[str, Any] | None:
        form = self.forms[0] if self.forms else None  # one row, always there (min_num=1)
        if form is None or form.errors:
            return None
        return {name: form.cleaned_data.get(name) for name in SETTINGS_FIELDS}


class RuleFormSet(ProgramPartFormSet):
    part = "rules"


class TierFormSet(ProgramPartFormSet):
    part = "tiers"


class SettingsForm(ServiceCheckedModelForm):
    message_channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Channels of the messages below; none ticked = no messages.",
    )

    class Meta:
        model = ProgramSettings
        fields = list(SETTINGS_FIELDS)
        widgets = {
            f"{event}_body": forms.Textarea(attrs={"rows": 3, "cols": 70})
            for event in ("points_earned", "points_expiring", "tier_up", "tier_down")
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _at_most(self, SETTINGS_MAX)
        self.fields["points_expiring_days"].validators.append(MinValueValidator(1))
        for event, default in DEFAULTS.items():
            allowed = ", ".join(sorted(ALLOWED[event]))
            self.fields[f"{event}_title"].help_text = f"Default: {default.title}"
            self.fields[f"{event}_body"].help_text = f"Default: {default.body} Placeholders: {allowed}."
        for name in HOLD_DAY_FIELDS:  # left empty: no hold (0), as the API's default
            self.fields[name].required = False
        self.fields["points_expiring_days"].required = False  # left empty: the default

    def clean_points_expiring_days(self) -> int:
        return (
            self.cleaned_data.get("points_expiring_days")
            or ProgramSettings._meta.get_field("points_expiring_days").get_default()
        )

    def clean_hold_days(self) -> int:
        return self.cleaned_data.get("hold_days") or 0

    def clean_return_window_days(self) -> int:
        return self.cleaned_data.get("return_window_days") or 0


class RuleForm(ServiceCheckedModelForm):
    """One earning rule row: the fields of its type (``earning_rule_fields``); the others,
    hidden on the page, are left out of what is saved."""

    streak_steps = streak_steps_field()

    class Meta:
        model = EarningRule
        fields = [*RULE_FIELDS, "categories"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _at_most(self, RULE_MAX)
        for name, text in RULE_HELP.items():
            self.fields[name].help_text = text
        show_fields_by_type(self.fields["rule_type"], earning_rule_fields())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        by_type = earning_rule_fields()
        taken = by_type.get(data.get("rule_type"))
        if taken is not None:
            for name in {name for names in by_type.values() for name in names} - set(taken):
                if name in data:
                    data[name] = [] if name in ("streak_steps", "categories") else None
                self.errors.pop(name, None)  # a field the type does not take: nothing to fix there
        return data

    def value(self) -> dict[str, Any]:
        """The service's rule dict (``program_create(rules=[...])``)."""
        data = self.cleaned_data
        rule = {key: data.get(key) for key in RULE_FIELDS}
        rule["streak_steps"] = data.get("streak_steps") or []
        rule["category_ids"] = sorted(category.pk for category in data.get("categories") or ())
        return rule


class TierForm(ServiceCheckedModelForm):
    class Meta:
        model = Tier
        fields = list(TIER_KEYS)
        widgets = {"benefits": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def value(self) -> dict[str, Any]:
        return {key: self.cleaned_data.get(key) for key in TIER_KEYS}


# --- Adjusting points ----------------------------------------------------------------------------


class PointsAdjustForm(forms.Form):
    points = forms.IntegerField(
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text="Positive adds a new lot (expiring by the program's rule); negative takes the oldest points first.",
    )
    reason = forms.CharField(
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        error_messages={"required": "Say why the points are adjusted."},
        help_text="Required: kept on the transaction, with your name.",
    )
    # One submission adjusts once: a second post of the same page (a double click, a reload)
    # carries the same key, and the ledger answers it with the first adjustment.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64, initial=lambda: uuid.uuid4().hex)

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise ValidationError("Adjust by a number of points other than zero.")
        return points

    def idempotency_key(self) -> str:
        return f"console:{self.cleaned_data['token']}"
