"""Message content and its placeholders, rendered in a sandbox.

Templates are Jinja2 in a :class:`~jinja2.sandbox.SandboxedEnvironment` over a context of plain
values (strings, numbers), so a marketer's template can read ``{{ first_name }}`` and nothing
else: no attribute of a live object, no method call that reaches the database. HTML mail
renders with autoescaping; text channels without. A template that does not parse, or names a
placeholder nobody provides, is refused when it is saved (:func:`content_check`), never found
out by a failed send.
"""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from lms.errors import Invalid
from notifications import registry
from notifications.models import Channel

MAX_TITLE = 200
MAX_BODY = 5000  # an SMS is far shorter; a mail body past this is a page, not a message
MAX_URL = 500
MAX_CTA_TEXT = 60

# What a message template may hold: text, placeholders, literals, conditions (if/else, and, or,
# not, comparisons, tests), joining with ``~`` and filters that cannot grow a value. The
# sandbox bounds neither time nor size: a loop in a loop, a macro calling itself, ``'x' * 10**9``
# or ``|center(10**9)`` would render gigabytes or run for hours, for each recipient of a fan-out
# and in every customer's feed read. Refused when saved, and again when rendered (content stored
# before this rule fails its delivery rather than the worker).
SAFE_FILTERS = frozenset(
    {"abs", "capitalize", "count", "d", "default", "e", "escape", "first", "int", "last", "length", "lower",
     "round", "string", "striptags", "title", "trim", "upper"}
)  # fmt: skip
_SAFE_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand, nodes.Concat,
    nodes.Filter, nodes.Test,
)  # fmt: skip
MAX_NUMBER = 10_000  # a number literal past this is a width or a repeat count, not content
_KINDS = {nodes.For: "a loop", nodes.Macro: "a macro", nodes.CallBlock: "a call", nodes.Call: "a call",
          nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}", nodes.BinExpr: "arithmetic"}  # fmt: skip


def template_shape_problem(parsed: nodes.Template) -> str | None:
    """Why a parsed template is not one a message may use (see SAFE_FILTERS), or None."""
    for node in parsed.find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            return f"The filter {node.name!r} cannot be used; these can: {', '.join(sorted(SAFE_FILTERS))}."
        if isinstance(node, nodes.Const) and isinstance(node.value, int | float) and abs(node.value) > MAX_NUMBER:
            return f"Numbers above {MAX_NUMBER:,} cannot be used in a message."
        if not isinstance(node, _SAFE_NODES):
            kind = next((name for cls, name in _KINDS.items() if isinstance(node, cls)), type(node).__name__)
            return (
                f"A message cannot use {kind}: only placeholders, text, if/else, and/or/not, comparisons, ~ "
                "and simple filters."
            )
    return None


_text = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_html = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


@dataclass(frozen=True)
class Content:
    title: str = ""
    body: str = ""
    image_url: str = ""
    cta_text: str = ""
    cta_url: str = ""

    @classmethod
    def of(cls, source: Any, prefix: str = "") -> "Content":
        """The content fields of a model that stores them as ``<prefix>title`` and so on."""
        return cls(**{name: getattr(source, f"{prefix}{name}") or "" for name in cls.__dataclass_fields__})


class RenderError(Exception):
    """A template failed for one recipient (a value missing at send time)."""


def _invalid(details: dict[str, list[str]]) -> Invalid:
    path, messages = next(iter(details.items()))
    error = Invalid("validation_error", f"{path}: {messages[0]}")
    error.details = details
    return error


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL:
        return f"At most {MAX_URL} characters."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Must be an http(s) URL with a host."
    return None


def template_problem(source: str) -> str | None:
    """Why a template cannot be used (syntax, unknown placeholder), or None."""
    try:
        parsed = _text.parse(source)
    except TemplateSyntaxError as exc:
        return f"Template syntax error on line {exc.lineno}: {exc.message}"
    if shape := template_shape_problem(parsed):
        return shape
    unknown = sorted(name for name in meta.find_undeclared_variables(parsed) if name not in registry.placeholders)
    if unknown:
        known = ", ".join(registry.placeholders)
        return f"Unknown placeholder {', '.join(unknown)}; known: {known}."
    return None


def content_check(*, content: Content, channels: Sequence[str], prefix: str = "", required: bool = True) -> None:
    """Refuse content that could not be sent: unknown channel, bad URL, bad template, too long.

    ``prefix`` names the fields as the caller's input does (``"notification."``);
    ``required``: with channels set, a title and a body must be present.
    """
    problems: dict[str, list[str]] = {}
    for index, channel in enumerate(channels):
        if channel not in Channel.values:
            problems[f"{prefix}channels.{index}"] = [
                f"Unknown channel {channel!r}; one of {', '.join(Channel.values)}."
            ]
    if len(set(channels)) != len(channels):
        problems[f"{prefix}channels"] = ["A channel is listed twice."]
    limits = {"title": MAX_TITLE, "body": MAX_BODY, "cta_text": MAX_CTA_TEXT}
    for name, limit in limits.items():
        value = getattr(content, name)
        if len(value) > limit:
            problems[f"{prefix}{name}"] = [f"At most {limit} characters ({len(value)} given)."]
        elif value and (problem := template_problem(value)):
            problems[f"{prefix}{name}"] = [problem]
    for name in ("image_url", "cta_url"):
        value = getattr(content, name)
        if value and (problem := _url_problem(value)):
            problems[f"{prefix}{name}"] = [problem]
    if content.cta_text and not content.cta_url:
        problems.setdefault(f"{prefix}cta_url", ["A call to action needs a link."])
    if required and channels:
        for name in ("title", "body"):
            if not getattr(content, name).strip():
                problems.setdefault(f"{prefix}{name}", ["Required when channels are set."])
    if problems:
        raise _invalid(problems)


@functools.lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    # A fan-out renders the same few templates for every recipient: compile each once.
    environment = _html if html else _text
    if shape := template_shape_problem(environment.parse(source)):
        raise SecurityError(shape)  # stored before the rule: the caller's RenderError
    return environment.from_string(source)


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render one template for one recipient; :class:`RenderError` if it cannot be."""
    try:
        return _compiled(source, html).render(**values)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError) as exc:
        raise RenderError(str(exc)) from exc
