"""Structured logs: every stdlib log line (Django's, Celery's, ours) as one JSON object, or as
readable text in development, carrying the request id of the request or task that wrote it.

The request id lives in a context variable set by :class:`lms.request_log.RequestLogMiddleware`;
inside a Celery task it comes from the task message's ``request_id`` header, which
:func:`_request_id_header` adds to every task published while a request (or a task that
carries one) is being handled. ``structlog``'s ``ProcessorFormatter`` does the rendering: the
call sites stay plain ``logger.info(...)``.
"""

import logging
import logging.config
import re
import uuid
from contextvars import ContextVar, Token
from typing import Any

import structlog
from celery import current_task, signals

LOG_FORMATS = ("json", "console")
REQUEST_ID_HEADER = "X-Request-ID"
# The message header (and OutboxTask column) that carries a request id to a worker.
TASK_HEADER = "request_id"
# An incoming id is kept only when it is this short and made of these characters: it is
# written into every log line and echoed to the client, so anything else (a log-injection
# attempt, a megabyte of header) is replaced by a fresh id.
REQUEST_ID_MAX_LENGTH = 128
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:=+-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
# The access line's own fields (passed with extra=); any other extra stays out of the JSON.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "user_id", "request_id_rejected")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_sane(value: str | None) -> bool:
    return bool(value) and _SANE_REQUEST_ID.fullmatch(value) is not None


def request_id_bind(request_id: str | None) -> Token:
    return _request_id.set(request_id)


def request_id_unbind(token: Token) -> None:
    _request_id.reset(token)


def _running_task():
    task = current_task._get_current_object()
    # A task called as a plain function (task(...)) has no id: it is not a task run.
    return task if task is not None and task.request.id is not None else None


def _task_request_id(task) -> str | None:
    request = task.request
    # A worker puts the message's custom headers on the request; an eager run keeps them apart.
    return getattr(request, TASK_HEADER, None) or (request.headers or {}).get(TASK_HEADER)


def current_request_id() -> str | None:
    """The id of the request being handled, or of the request that enqueued the running task."""
    request_id = _request_id.get()
    if request_id is None and (task := _running_task()) is not None:
        request_id = _task_request_id(task)
    return request_id


def _add_context(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    request_id = current_request_id()
    if request_id is None:
        # Django logs a 4xx/5xx answer (django.request) after the middleware has returned; the
        # record carries the request itself.
        request = getattr(event_dict.get("_record"), "request", None)
        request_id = getattr(request, "request_id", None)
    event_dict.setdefault("request_id", request_id)
    if (task := _running_task()) is not None:
        event_dict.setdefault("task_id", task.request.id)
        event_dict.setdefault("task_name", task.name)
    return event_dict


LEADING_FIELDS = ("timestamp", "level", "logger", "message", "request_id", "task_id", "task_name")


def _leading_fields_first(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # A person reading raw lines sees when, how bad, where and what before the details.
    leading = {key: event_dict.pop(key) for key in LEADING_FIELDS if key in event_dict}
    return {**leading, **event_dict}


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of LOGGING's handler (``"()": "lms.logs.formatter"``)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT is {log_format!r}: use json or console.")
    pre_chain = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(allow=ACCESS_FIELDS),
        _add_context,
    ]
    if log_format == "json":
        renderers = [
            structlog.processors.format_exc_info,  # the traceback as one string field
            structlog.processors.EventRenamer("message"),
            _leading_fields_first,
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderers = [structlog.dev.ConsoleRenderer(colors=False)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
    )


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: one handler on the root logger, every other logger propagating to it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "lms.logs.formatter", "log_format": log_format}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default config gives "django" a console handler of its own (with DEBUG on):
            # beside ours on the root, every request warning printed twice. It propagates instead.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.db.backends": {"level": "INFO"},
            # runserver's own access line (make run); lms.access writes the one with the request id.
            "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


@signals.setup_logging.connect
def _celery_keeps_our_logging(**kwargs: Any) -> None:
    # A receiver here stops Celery from putting its own handlers and formats on the root and
    # task loggers: workers and beat write the same structured lines as the web process.
    # LOG_LEVEL alone sets the level (celery's -l is ignored), so every process agrees.
    from django.conf import settings

    configured = any(isinstance(h.formatter, structlog.stdlib.ProcessorFormatter) for h in logging.getLogger().handlers)
    if not configured:  # Django's setup has not run yet in this process
        logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _request_id_header(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    # An explicit header (the outbox republishing a row for its original request) wins.
    if headers is not None and headers.get(TASK_HEADER) is None:
        headers[TASK_HEADER] = current_request_id()
