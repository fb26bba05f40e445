"""The console's campaign forms.

A campaign and its rule rows are checked as one by ``campaign_check``, the API's own checks:
the rule formset (validated after the campaign form, see ``ModelAdmin._changeform_view``) runs
it and puts each message on the field its path names (``rules[0].value`` -> rule row 0, field
``value``). Saving then goes through the services (``CampaignAdmin.save_model``).
"""

import copy
import csv
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from accounts.models import User
from campaigns.evaluation import CartRequest
from campaigns.form_parts import (
    CAMPAIGN_HELP,
    RULE_HELP,
    campaign_words,
    help_texts,
    rule_type_fields,
    tiers_field,
)
from campaigns.models import WEEKDAYS, Campaign, CampaignKind, Channel, DiscountRule
from campaigns.services.campaigns import campaign_check
from campaigns.services.rules import RULE_FIELDS, TARGET_RELATIONS
from commerce.selectors import known_places
from lms.errors import DomainError
from lms.form_fields import show_fields_by_type
from lms.forms import (
    MONEY_DIGITS,
    CommaSeparatedField,
    CurrencyField,
    PlacesForm,
    ServiceCheckedModelForm,
    bound_fields,
    channels_field,
    currency_validator,
    error_on_field,
    error_paths,
    form_columns,
    group_paths,
    https_urls,
    picked_ids,
    weekdays_field,
)
from segments.models import Segment

CAMPAIGN_COLUMNS = frozenset(f.name for f in Campaign._meta.concrete_fields if not f.primary_key)
RULE_KEYS = RULE_FIELDS
TARGET_FIELDS = TARGET_RELATIONS  # the API's target field -> the rule form's field
# A service path names the API's field; the console's form may call it differently.
FORM_FIELD_FOR_PATH = {
    "segment_ids": "segments",
    **TARGET_FIELDS,
    **group_paths(Campaign, "notification", "notify_"),
}
RULE_PATH = re.compile(r"^rules\[(?P<index>\d+)\](?:\.(?P<field>\w+)(?P<rest>.*))?$")
CENT = Decimal("0.01")

# The API serializers' bounds (campaigns/api/serializers.py), so both faces refuse the same input.
CAMPAIGN_BOUNDS = {
    "priority": (-1000, 1000),
    "min_cart_value": (Decimal("0"), None),
    "max_discount": (CENT, None),
    "budget": (CENT, None),
    "usage_limit": (1, 2_000_000_000),
    "customer_limit": (1, 1_000_000),
    "period_limit": (1, 1_000_000),
}
RULE_BOUNDS = {
    "max_discount": (CENT, None),
    "min_quantity": (1, 1_000_000),
    "max_quantity": (1, 1_000_000),
    "buy_quantity": (1, 1000),
    "get_quantity": (1, 1000),
    "max_applications": (1, 1000),
}


class CampaignForm(PlacesForm, ServiceCheckedModelForm):
    weekdays = weekdays_field(WEEKDAYS)
    notify_channels = channels_field(Channel.choices, label="Notify channels")

    class Meta:
        model = Campaign
        formfield_callback = https_urls
        field_classes = {"currency": CurrencyField}
        fields = [
            "name", "description", "kind", "status", "priority",
            "starts_at", "ends_at", "timezone", "weekdays", "daily_start", "daily_end",
            "audience", "segments", "countries", "states", "cities",
            "redemption_type", "code_type", "code", "currency", "min_cart_value", "max_discount", "validity",
            "usage_limit", "customer_limit", "period_limit", "period", "budget", "exclusive", "stackable",
            "notify_title", "notify_body", "notify_image_url", "notify_cta_text", "notify_cta_url", "notify_channels",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The rules formset, validated after this form, checks the campaign as a whole; it
        # finds this form through the instance both are built on.
        self.instance.console_form = self
        self.checked_rules: list[dict[str, Any]] | None = None
        if "kind" in self.fields:  # loyalty programs are the loyalty app's
            self.fields["kind"].choices = [
                (CampaignKind.DISCOUNT_COUPON, CampaignKind.DISCOUNT_COUPON.label),
                (CampaignKind.FREE_SHIPPING, CampaignKind.FREE_SHIPPING.label),
            ]
        bound_fields(self, CAMPAIGN_BOUNDS)
        help_texts(self, CAMPAIGN_HELP)
        if "description" in self.fields:  # a short box: the page stays short
            self.fields["description"].widget.attrs["rows"] = 2
        self.offer_places(known_places())

    # --- What the services get ---------------------------------------------------------------

    def service_fields(self) -> dict[str, Any]:
        """The campaign's columns on this form, as the instance holds them after cleaning."""
        return form_columns(self)

    def segment_ids(self) -> list[int] | None:
        return picked_ids(self, "segments")

    def check_campaign(self, rules: list[dict[str, Any]] | None) -> None:
        """``campaign_check`` on the whole campaign as it would be saved (stored values merged
        with this form's); raises the service's Invalid/Conflict."""
        state = {name: getattr(self.instance, name) for name in CAMPAIGN_COLUMNS if name != "created_by"}
        campaign_check(
            fields=state,
            rules=copy.deepcopy(rules),  # the check normalises in place; the service will again
            segment_ids=self.segment_ids(),
            campaign_id=self.instance.pk,
            notify_changed=self.notify_changed(),
        )

    def notify_changed(self) -> bool:
        """A new campaign's content is checked, and a change of it (not old content on an unrelated edit)."""
        return self.instance.pk is None or any(name.startswith("notify_") for name in self.changed_data)


class RuleForm(ServiceCheckedModelForm):
    """One rule row: the fields of its rule type (``rule_type_fields``); the others, hidden on
    the page, are left out of what is saved."""

    tiers = tiers_field()

    class Meta:
        model = DiscountRule
        fields = [*RULE_KEYS, *TARGET_FIELDS.values()]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bound_fields(self, RULE_BOUNDS)
        help_texts(self, RULE_HELP)
        if "rule_type" in self.fields:
            show_fields_by_type(self.fields["rule_type"], rule_type_fields())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        taken = rule_type_fields().get(data.get("rule_type"))
        if taken is not None:
            for name in {name for names in rule_type_fields().values() for name in names} - set(taken):
                if name in data:
                    data[name] = [] if name == "tiers" or name in TARGET_FIELDS.values() else None
                self.errors.pop(name, None)  # a field the type does not take: nothing to fix there
        return data

    def rule(self) -> dict[str, Any]:
        """The service's rule dict (``campaign_create(rules=[...])``)."""
        data = self.cleaned_data
        rule = {key: data.get(key) for key in RULE_KEYS}
        rule["tiers"] = data.get("tiers") or []
        for key, name in TARGET_FIELDS.items():
            rule[key] = sorted(target.pk for target in data.get(name) or ())
        return rule


class RuleFormSet(BaseInlineFormSet):
    """The rule rows; its ``clean`` checks the whole campaign with them (see the module doc)."""

    def rule_forms(self) -> list[RuleForm]:
        """The rows that make the rules, in order: not ticked for deletion, not an untouched extra row."""
        return [
            form
            for form in self.forms
            if not (self.can_delete and form.cleaned_data.get("DELETE"))
            and (form.instance.pk is not None or form.has_changed())
        ]

    def clean(self) -> None:
        super().clean()
        campaign_form = getattr(self.instance, "console_form", None)
        if campaign_form is None or campaign_form.errors:
            return
        rows = self.rule_forms()
        # With a bad row the campaign's own fields are still checked (rules=None skips the rules).
        rules = None if any(form.errors for form in rows) else [form.rule() for form in rows]
        try:
            campaign_form.check_campaign(rules)
        except DomainError as error:
            unplaced = self._place(error, campaign_form, rows)
            if unplaced:
                raise ValidationError([campaign_words(text) for text in unplaced])
            return
        campaign_form.checked_rules = rules

    @staticmethod
    def _place(error: DomainError, campaign_form: CampaignForm, rows: list[RuleForm]) -> list[str]:
        """Put each message on the field its path names. Answers the formset's own errors: any
        message not on a rule row must also stop the save (the campaign form was valid when the
        admin looked, so only an invalid formset stops it)."""
        own, on_campaign = [], False
        for path, message in error_paths(error):
            match = RULE_PATH.match(path)
            if path == "rules":
                own.append(message)
            elif match and int(match["index"]) < len(rows):
                form = rows[int(match["index"])]
                error_on_field(
                    form, match["field"] or "", message, rest=match["rest"] or "", names=FORM_FIELD_FOR_PATH,
                    words=campaign_words,
                )  # fmt: skip
            else:
                on_campaign = True
                error_on_field(campaign_form, path, message, names=FORM_FIELD_FOR_PATH, words=campaign_words)
        if on_campaign:
            own.append("Nothing was saved: see the errors on the campaign's fields above.")
        return own


# --- Actions' forms -------------------------------------------------------------------------------


class CodeGenerateForm(forms.Form):
    count = forms.IntegerField(min_value=1, initial=100, help_text="How many new codes.")
    prefix = forms.CharField(required=False, max_length=32, help_text="Such as DIWALI-; letters, digits, - and _.")
    suffix = forms.CharField(required=False, max_length=32)
    length = forms.IntegerField(min_value=1, initial=8, help_text="Random characters between prefix and suffix.")
    max_uses = forms.IntegerField(min_value=1, initial=1, help_text="Uses per code (1 = single use).")
    batch = forms.CharField(required=False, max_length=64, help_text="A name for this batch (default: the time).")


class CodeAssignForm(forms.Form):
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.filter(kind=Segment.Kind.USER).order_by("name", "pk"),
        help_text="Each member without one of the campaign's codes gets one free code, theirs alone.",
    )


# --- The test-a-cart form -------------------------------------------------------------------------

LINE_FORMAT = "sku, quantity, unit_price[, category, brand]"
MAX_LINES = 500
MAX_CODES = 20
MAX_QUANTITY = 100_000


class CampaignTestForm(forms.Form):
    customer = forms.CharField(required=False, max_length=254, help_text="Email or external id; empty = a guest.")
    codes = CommaSeparatedField(required=False, help_text="Comma-separated codes the customer typed.")
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 70, "style": "font-family: monospace"}),
        help_text=f"One per line: {LINE_FORMAT}. Category and brand (external id or name) are for skus we do not mirror.",
    )
    shipping = forms.DecimalField(**MONEY_DIGITS, min_value=Decimal("0"), required=False, initial=Decimal("0.00"))
    currency = forms.CharField(initial="INR", max_length=3, validators=[currency_validator])
    country = forms.CharField(required=False, max_length=64)
    state = forms.CharField(required=False, max_length=64)
    city = forms.CharField(required=False, max_length=64)
    at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Judge it at this time (the console's time zone); empty = now.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer_user: User | None = None

    def clean_customer(self) -> str:
        identity = self.cleaned_data["customer"].strip()
        if identity:
            users = (
                User.objects.filter(email=identity.lower())
                if "@" in identity
                else User.objects.filter(external_id=identity)
            )
            self.customer_user = users.first()
        return identity

    def clean_codes(self) -> list[str]:
        codes = self.cleaned_data["codes"]
        if len(codes) > MAX_CODES:
            raise ValidationError(f"At most {MAX_CODES} codes.")
        if any(len(code) > 64 for code in codes):
            raise ValidationError("A code is at most 64 characters.")
        return codes

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()

    def clean_lines(self) -> list[dict[str, Any]]:
        lines, errors = [], []
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                lines.append(_parse_line(raw))
            except ValidationError as error:
                errors.append(f"Line {number}: {error.message}")
        if errors:
            raise ValidationError(errors)
        if not lines:
            raise ValidationError(f"Give at least one line: {LINE_FORMAT}.")
        if len(lines) > MAX_LINES:
            raise ValidationError(f"At most {MAX_LINES} lines.")
        return lines

    def cart_request(self) -> CartRequest:
        data = self.cleaned_data
        return CartRequest(
            lines=data["lines"],
            at=data["at"] or timezone.now(),
            customer=self.customer_user,
            customer_known=bool(data["customer"]),
            codes=data["codes"],
            shipping=data["shipping"] if data["shipping"] is not None else Decimal("0.00"),
            currency=data["currency"],
            location={key: data[key].strip() for key in ("country", "state", "city")},
        )


def _parse_line(raw: str) -> dict[str, Any]:
    try:
        parts = [part.strip() for part in next(csv.reader([raw], skipinitialspace=True))]
    except csv.Error as error:
        raise ValidationError(f"not a comma-separated line ({error}).")
    if not 3 <= len(parts) <= 5:
        raise ValidationError(f"expected {LINE_FORMAT}; got {len(parts)} value(s).")
    sku, quantity, unit_price, *rest = parts
    if not sku or len(sku) > 64:
        raise ValidationError("the sku is 1 to 64 characters.")
    try:
        quantity = int(quantity)
    except ValueError:
        raise ValidationError(f"the quantity {quantity!r} is not a whole number.")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(f"the quantity is between 1 and {MAX_QUANTITY:,}.")
    try:
        price = Decimal(unit_price)
    except InvalidOperation:
        raise ValidationError(f"the unit price {unit_price!r} is not a number.")
    if not price.is_finite() or price < 0 or price >= 10**10 or price != price.quantize(CENT):
        raise ValidationError("the unit price is an amount of 0 or more with at most 2 decimal places.")
    line = {"sku": sku, "quantity": quantity, "unit_price": price.quantize(CENT)}
    for key, value in zip(("category", "brand"), rest, strict=False):
        if len(value) > 120:
            raise ValidationError(f"the {key} is at most 120 characters.")
        if value:
            line[key] = value
    return line
