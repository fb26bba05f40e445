"""Message content and its placeholders, rendered in a sandbox.

Templates are Jinja2 in a :class:`~jinja2.sandbox.SandboxedEnvironment` over a context of plain
values (strings, numbers), so a marketer's template can read ``{{ first_name }}`` and nothing
else: no attribute of a live object, no method call that reaches the database. HTML mail
renders with autoescaping; text channels without. A template that does not parse, or names a
placeholder nobody provides, is refused when it is saved (:func:`content_check`), never found
out by a failed send.

A template is a message, not a program: placeholders, ``{% if %}``, ``or``/``and``/``not``,
comparisons, ``~`` and a few filters that never grow their input (:data:`FILTERS`). No loops,
``set``, macros, calls, attribute or item access: then what a template renders is bounded by
its own length times its values' (a ``{% for %}`` over ``range(10**5)`` twice, ``'x' * 10**9``,
``'x'|center(10**9)`` or ``'%9999999s'|format(x)`` would render gigabytes or run for minutes
in any worker that sends it). Arithmetic takes numbers only, with small exponents. The same
check runs when a template is compiled to be sent (content stored before it was checked), and
:func:`render` stops past :data:`MAX_RENDERED` characters or :data:`RENDER_SECONDS`.
"""

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from lms.errors import Invalid
from notifications import registry
from notifications.models import Channel

MAX_TITLE = 200
MAX_BODY = 5000  # an SMS is far shorter; a mail body past this is a page, not a message
MAX_URL = 500
MAX_CTA_TEXT = 60
MAX_RENDERED = 20_000  # characters of one rendered field: a body's 5,000 with long values
RENDER_SECONDS = 1.0
MAX_EXPONENT = 64

# Filters whose output is at most a small multiple of their input (no center, indent, format,
# join, replace, list, ...; no ``safe``, which would let a customer's first name write HTML).
FILTERS = frozenset(
    {
        "abs", "capitalize", "d", "default", "e", "escape", "float", "forceescape", "int", "length",
        "lower", "round", "string", "striptags", "title", "trim", "truncate", "upper", "wordcount",
    }
)  # fmt: skip
# The nodes a message template may contain (jinja2.nodes); anything else is refused.
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Name, nodes.Const, nodes.Tuple,
    nodes.List, nodes.Concat, nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Compare, nodes.Operand, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod,
    nodes.Pow, nodes.Filter, nodes.Test, nodes.Keyword,
)  # fmt: skip
_NUMBER = (int, float, Decimal)


class _MessageEnvironment(SandboxedEnvironment):
    """The sandbox, with arithmetic on numbers only (``'x' * 10**9`` is refused, not built)."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        both_numbers = isinstance(left, _NUMBER) and isinstance(right, _NUMBER)
        if operator == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        if not both_numbers:
            raise SecurityError(f"{operator!r} takes numbers in a message template")
        if operator == "**" and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent is at most {MAX_EXPONENT} in a message template")
        return super().call_binop(context, operator, left, right)


_text = _MessageEnvironment(autoescape=False, undefined=StrictUndefined)
_html = _MessageEnvironment(autoescape=True, undefined=StrictUndefined)


def _structure_problem(parsed: nodes.Template) -> str | None:
    """Why a parsed template is more than a message (a loop, a call, ...), or None."""
    for node in parsed.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            return f"{type(node).__name__} is not allowed in a message (placeholders, if, filters only)."
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            return f"Unknown filter {node.name!r}; one of {', '.join(sorted(FILTERS))}."
        if isinstance(node, nodes.Test) and node.name not in _text.tests:
            return f"Unknown test {node.name!r} (is defined, is none, is number, is even, ...)."
        if isinstance(node, nodes.Name) and node.ctx != "load":
            return "Assignments are not allowed in a message."
        if isinstance(node, nodes.Mul | nodes.Pow | nodes.Mod | nodes.Sub | nodes.Div | nodes.FloorDiv) and any(
            isinstance(side, nodes.Const) and not isinstance(side.value, _NUMBER) for side in (node.left, node.right)
        ):
            return "Arithmetic takes numbers in a message (no repeating or formatting text)."
    return None


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
    if problem := _structure_problem(parsed):
        return problem
    names = {node.name for node in parsed.find_all(nodes.Name)}
    unknown = sorted(name for name in names if name not in registry.placeholders)
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
    # Checked again here: content stored before the check, or written around content_check.
    if problem := _structure_problem(environment.parse(source)):
        raise SecurityError(problem)
    return environment.from_string(source)


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render one template for one recipient; :class:`RenderError` if it cannot be, or if it
    would be longer than :data:`MAX_RENDERED` or take longer than :data:`RENDER_SECONDS`."""
    deadline = time.monotonic() + RENDER_SECONDS
    try:
        parts, size = [], 0
        for part in _compiled(source, html).generate(**values):
            size += len(part)
            if size > MAX_RENDERED:
                raise RenderError(f"the rendered text is longer than {MAX_RENDERED} characters")
            if time.monotonic() > deadline:
                raise RenderError(f"rendering took longer than {RENDER_SECONDS} s")
            parts.append(part)
        return "".join(parts)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError, ArithmeticError) as exc:
        raise RenderError(str(exc)) from exc
