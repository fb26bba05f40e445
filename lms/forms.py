"""Console forms' shared plumbing: forms whose checks are a service's, and a service's refusal
put on the fields its paths name."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import InlineForeignKeyField, construct_instance

from lms.errors import DomainError


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


def error_on_field(form: forms.BaseForm, field: str, message: str, *, rest: str = "", names: dict[str, str]) -> None:
    """Put a service's message for ``field`` (a path's head; ``rest`` what follows it, such as
    ``[1].value``) on the form's field of that name (``names`` maps the service's name to the
    form's where they differ); on the form as a whole, named, when it has no such field."""
    text = f"{field}{rest}: {message}" if rest else message
    name = names.get(field, field)
    if name in form.fields:
        form.add_error(name, text)
    else:
        form.add_error(None, f"{field}: {text}" if field else text)
