"""Console forms' shared plumbing: forms whose checks are a service's, a service's refusal put
on the fields its paths name, and the field builders more than one app's console uses."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.forms.models import InlineForeignKeyField, construct_instance
from unfold import widgets as unfold_widgets

from lms.errors import DomainError
from lms.form_fields import PlacesForm  # noqa: F401  (the apps' forms mix it in from here)

_WIDGET_CLASSES: tuple[tuple[type, list[str]], ...] = (
    (forms.CheckboxSelectMultiple, []),
    (forms.RadioSelect, []),
    (forms.CheckboxInput, unfold_widgets.CHECKBOX_CLASSES),
    (forms.Textarea, unfold_widgets.TEXTAREA_CLASSES),
    (forms.Select, unfold_widgets.SELECT_CLASSES),
    (forms.DateTimeInput, unfold_widgets.DATETIME_CLASSES),
    (forms.widgets.Input, unfold_widgets.INPUT_CLASSES),
)


def console_styled(form: forms.BaseForm) -> forms.BaseForm:
    """A plain form on a console page of our own (an action's page, the cart test) drawn like
    the console's model forms: the theme styles its inputs by class, not by element."""
    for field in form.fields.values():
        for widget_type, classes in _WIDGET_CLASSES:
            if isinstance(field.widget, widget_type):
                present = field.widget.attrs.get("class", "")
                field.widget.attrs["class"] = " ".join([present, *classes]).strip()
                break
    return form


def error_paths(error: DomainError) -> list[tuple[str, str]]:
    """(path, message) pairs of a service error: ``details`` maps paths to messages
    (``invalid()``), or names one ``path`` (the 409 of a taken code); else no path."""
    details = error.details or {}
    if isinstance(details.get("path"), str):
        return [(details["path"], error.message)]
    pairs = [
        (path, str(message)) for path, messages in details.items() if isinstance(messages, list) for message in messages
    ]
    return pairs or [("", error.message)]


class ServiceCheckedModelForm(forms.ModelForm):
    """A model form whose cross-field checks are a service's (``campaign_check``,
    ``program_check``). The model's own constraint pass (which ``ModelForm._post_clean`` runs)
    is skipped: it would repeat the same problems as "Constraint … is violated" with no field
    to show them on. The constraints still hold in the database."""

    def _post_clean(self) -> None:
        exclude = self._get_validation_exclusions()
        # As ModelForm does: the inline's foreign key may point at a row not saved yet.
        exclude.update(name for name, field in self.fields.items() if isinstance(field, InlineForeignKeyField))
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as error:
            self._update_errors(error)
        try:
            self.instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            self._update_errors(error)


def error_on_field(
    form: forms.BaseForm,
    field: str,
    message: str,
    *,
    rest: str = "",
    names: dict[str, str],
    words: Callable[[str], str] = str,
) -> None:
    """Put a service's message for ``field`` (a path's head; ``rest`` what follows it, such as
    ``[1].value``) on the form's field of that name (``names`` maps the service's name to the
    form's where they differ); on the form as a whole, named, when it has no such field.
    ``words`` turns the text into the marketer's words (``lms.form_fields.words_for``)."""
    text = f"{field}{rest}: {message}" if rest else message
    name = names.get(field, field)
    if name in form.fields:
        form.add_error(name, words(text))
    else:
        form.add_error(None, words(f"{field}: {text}" if field else text))


# --- Field builders ------------------------------------------------------------------------------

MONEY_DIGITS = {"max_digits": 12, "decimal_places": 2}
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
currency_validator = RegexValidator(r"^[A-Za-z]{3}$", "A currency is a 3-letter ISO code, such as INR.")


def bound(field: forms.Field, low: Any, high: Any) -> None:
    """Refuse a number outside [low, high] (either may be None), and say so to the browser."""
    if low is not None:
        field.validators.append(MinValueValidator(low))
        field.widget.attrs["min"] = low
    if high is not None:
        field.validators.append(MaxValueValidator(high))
        field.widget.attrs["max"] = high


def bound_fields(form: forms.BaseForm, bounds: dict[str, tuple[Any, Any]]) -> None:
    """``bound`` each of the form's fields named in ``bounds`` (name -> (low, high))."""
    for name, (low, high) in bounds.items():
        if name in form.fields:
            bound(form.fields[name], low, high)


class CommaSeparatedField(forms.CharField):
    """A JSON list of strings, typed as comma-separated text."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        return [part.strip() for part in text.split(",") if part.strip()]


class CurrencyField(forms.CharField):
    """A 3-letter ISO code, kept upper-case."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators.append(currency_validator)  # after the length's, as its message

    def to_python(self, value) -> str:
        return super().to_python(value).upper()


def https_urls(db_field, **kwargs) -> forms.Field | None:
    """Form fields as the model makes them; a URL typed without a scheme means https
    (a ModelForm's ``formfield_callback``)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def weekdays_field(codes: tuple[str, ...]) -> forms.MultipleChoiceField:
    """Tick boxes for the days of the week, Monday first (``codes`` are the stored values)."""
    return forms.MultipleChoiceField(
        choices=list(zip(codes, WEEKDAY_NAMES, strict=True)),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The days it runs, in its time zone; none ticked = every day.",
    )


def channels_field(choices, **kwargs) -> forms.MultipleChoiceField:
    """Tick boxes for the channels a message goes on."""
    return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, required=False, **kwargs)


def picked_ids(form: forms.BaseForm, name: str) -> list[int] | None:
    """The sorted ids picked in a many-to-many field; None when the form has no such field."""
    if name not in form.fields:
        return None
    return sorted(row.pk for row in form.cleaned_data.get(name) or ())


def form_columns(form: forms.BaseModelForm) -> dict[str, Any]:
    """The instance's columns that are on the form, as cleaning left them (a service's fields)."""
    names = {field.name for field in form.instance._meta.concrete_fields if not field.primary_key}
    return {name: getattr(form.instance, name) for name in form.fields if name in names}


def group_paths(model: type[models.Model], group: str, prefix: str, *, list_items: int = 4) -> dict[str, str]:
    """A service path into a nested group (``notification.title``, ``notification.channels.1``)
    -> the model's column the console's form calls it (``notify_title``, ``notify_channels``)."""
    names = {}
    for field in model._meta.concrete_fields:
        if field.name.startswith(prefix):
            path = f"{group}.{field.name.removeprefix(prefix)}"
            names[path] = field.name
            if isinstance(field, models.JSONField):
                names.update({f"{path}.{index}": field.name for index in range(list_items)})
    return names
