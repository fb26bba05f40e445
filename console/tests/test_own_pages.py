"""The console's own pages (an action's page, a points adjustment) draw their plain forms as the
theme draws model forms: inputs carry the theme's classes, and an error shows at the top."""

import re

import pytest
from django import forms
from unfold.widgets import CHECKBOX_CLASSES, INPUT_CLASSES, SELECT_CLASSES

from campaigns.tests.factories import CampaignFactory
from lms.forms import console_styled

pytestmark = pytest.mark.django_db


class Sample(forms.Form):
    name = forms.CharField()
    count = forms.IntegerField()
    kind = forms.ChoiceField(choices=[("a", "A")])
    agree = forms.BooleanField(required=False)


def test_console_styled_gives_each_widget_the_themes_classes():
    form = console_styled(Sample())
    assert form.fields["name"].widget.attrs["class"].split() == INPUT_CLASSES
    assert form.fields["count"].widget.attrs["class"].split() == INPUT_CLASSES
    assert form.fields["kind"].widget.attrs["class"].split() == SELECT_CLASSES
    assert form.fields["agree"].widget.attrs["class"].split() == CHECKBOX_CLASSES


def test_the_generate_codes_page_is_drawn_in_the_theme_and_shows_errors_on_top(console):
    campaign = CampaignFactory(redemption_type="COUPON_CODE", code_type="UNIQUE")
    post = {"action": "generate_codes", "_selected_action": [campaign.pk]}
    page = console.post("/admin/campaigns/campaign/", post).content.decode()
    assert "Generate unique codes" in page
    count_input = re.search(r'<input[^>]+name="count"[^>]*>', page).group(0)
    assert "rounded-default" in count_input

    refused = console.post("/admin/campaigns/campaign/", {**post, "apply": "1", "count": "-3", "length": "8"})
    assert refused.status_code == 200
    assert "Please correct the errors below." in refused.content.decode()
