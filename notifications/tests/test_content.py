"""Message templates: what they may say, and the bounds on what they render."""

import time

import pytest

from lms.errors import Invalid
from notifications.content import MAX_RENDERED, Content, RenderError, content_check, render


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ first_name.__class__.__mro__ }}",
        "{{ first_name[0] }}",
        "{{ lipsum(1000) }}",
        "{{ '{:>999999999}'.format(first_name) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{% set a = first_name ~ first_name %}{% set a = a ~ a %}{{ a }}",
        "{% macro m() %}x{% endmacro %}{{ m() }}",
        "{{ 'x' * 1000000000 }}",
        "{{ 'x' * 10 ** 9 }}",
        "{{ '%999999999s' % first_name }}",
        "{{ first_name|center(1000000000) }}",
        "{{ first_name|indent(1000000000) }}",
        "{{ '%999999999s'|format(first_name) }}",
        "{{ first_name|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa') }}",
        "{{ first_name|safe }}",
        "{{ cycler }}",
        "{% if first_name is sponsored %}x{% endif %}",
    ],
)
def test_a_template_that_is_more_than_a_message_is_refused_when_saved(body):
    with pytest.raises(Invalid) as caught:
        content_check(content=Content(title="t", body=body), channels=["EMAIL"], prefix="content.")
    assert list(caught.value.details) == ["content.body"]


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("Hi {{ first_name or 'there' }}", "Hi Asha"),
        ("{{ first_name|title }}{{ ' (' ~ points ~ ')' if points }}", "Asha (120)"),
        ("{% if points > 100 %}{{ points * 2 }} soon{% else %}keep going{% endif %}", "240 soon"),
        ("{{ (points / 3)|round(1) }} {{ 2 ** 10 }} {{ first_name|upper|truncate(9) }}", "40.0 1024 ASHA"),
    ],
)
def test_placeholders_conditions_and_plain_filters_still_render(source, rendered):
    # points: loyalty's placeholder (any registered name would do)
    content_check(content=Content(title="t", body=source), channels=["EMAIL"])
    assert render(source, {"first_name": "Asha", "points": 120}) == rendered


@pytest.mark.parametrize(
    "source",
    [
        # Stored before templates were checked (or written around content_check).
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{{ ''.__class__ }}",
        "{{ first_name|center(1000000000) }}",
        # Allowed shapes that only a value makes huge: refused when they run.
        "{{ first_name * 1000000000 }}",
        "{{ points ** 1000000000 }}",
        "{{ first_name + first_name }}{{ first_name ~ first_name }}",
    ],
)
def test_rendering_is_bounded_in_size_and_time_whatever_the_stored_template(source):
    started = time.monotonic()
    with pytest.raises(RenderError):
        render(source, {"first_name": "x" * (MAX_RENDERED // 3), "points": 10})
    assert time.monotonic() - started < 2


def test_a_value_that_would_make_the_text_too_long_fails_the_render():
    with pytest.raises(RenderError, match="longer than"):
        render("{{ first_name }}", {"first_name": "x" * (MAX_RENDERED + 1)})
    assert render("{{ first_name }}", {"first_name": "x" * MAX_RENDERED}) == "x" * MAX_RENDERED


@pytest.mark.parametrize("source", ["{{ points / 0 }}", "{{ points // (points - 120) }}", "{{ points % 0 }}"])
def test_a_division_by_zero_is_a_render_error_not_a_crash(source):
    # A ZeroDivisionError escaped render(): the dispatcher's chunk died with it, every row left SENDING.
    content_check(content=Content(title="t", body=source), channels=["SMS"])
    with pytest.raises(RenderError):
        render(source, {"points": 120})
