"""The segment form: criteria built in the builder (or typed as JSON by an expert), checked by
the service's validation with errors in words, and a CSV of members for static segments."""

import csv
import io

from django import forms

from lms.errors import DomainError
from segments import services
from segments.admin.builder import EMPTY_CRITERIA, CriteriaBuilderWidget, path_words
from segments.models import Segment


def criteria_error_words(error: DomainError) -> str:
    """A criteria refusal as the form shows it: where (in rows) and what."""
    path = error.details.get("path")
    if not isinstance(path, str):
        return error.message
    message = error.message.removeprefix(f"{path}: ")
    if path.endswith(".field"):  # the builder offers only known fields: none was chosen
        message = "Choose a field from the list."
    elif path.endswith(".op"):
        message = "Choose a comparison from the list."
    elif path.endswith((".all", ".any")) and message.startswith("Expected a non-empty list"):
        message = "This group is empty: add a condition to it or remove it."
    return f"{path_words(path)}: {message}"


class SegmentForm(forms.ModelForm):
    criteria = forms.JSONField(
        required=False,
        widget=CriteriaBuilderWidget(),
        help_text="Who is in a dynamic segment: add conditions, and groups for any-of or not.",
    )
    members_file = forms.FileField(
        required=False,
        label="Members CSV",
        help_text="Static segments: one customer email or external id (or product sku) per row, first column; "
        "replaces the list.",
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "type", "criteria"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "criteria" in self.fields:
            if self.instance.pk is None:
                self.initial.setdefault("criteria", EMPTY_CRITERIA)  # a new segment starts empty, never null
            self.fields["criteria"].widget.attrs["data-kind"] = self.instance.kind if self.instance.pk else ""
            self.fields["criteria"].widget.attrs["data-type"] = self.instance.type if self.instance.pk else ""

    def clean(self):
        data = super().clean()
        kind, type_ = data.get("kind") or self.instance.kind, data.get("type") or self.instance.type
        criteria = data.get("criteria")
        if type_ == Segment.Type.DYNAMIC:
            if criteria in (None, "") or criteria == EMPTY_CRITERIA:
                self.add_error("criteria", "Add at least one condition: a dynamic segment needs criteria.")
            else:
                try:
                    data["criteria"] = services.criteria_check(kind=kind, criteria=criteria)
                except DomainError as error:
                    self.add_error("criteria", criteria_error_words(error))
        elif criteria not in (None, "") and criteria != EMPTY_CRITERIA:
            self.add_error("criteria", "A static segment has members, not criteria.")
        else:
            data["criteria"] = None
        if data.get("members_file"):
            try:
                text = data["members_file"].read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("members_file", "The file is not UTF-8 text.")
            else:
                data["members"] = [row[0] for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
        return data
