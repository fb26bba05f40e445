"""The base of every operator command (``manage.py <ours>``): one clear line on failure, one
way to show progress.

A command that fails for a reason an operator can act on (a bad argument, a missing file, the
database or Redis down, a misconfigured setting, a service refusing the work) exits non-zero with one line naming it, not a
traceback; ``--traceback`` still shows one. A bug in our code keeps its traceback.
"""

import logging
import sys
from contextlib import contextmanager
from functools import partial

import redis
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from tqdm import tqdm

from lms.errors import DomainError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _one_line_error(parser: CommandParser, message: str) -> None:
    # argparse prints the whole usage before the error; one line and a pointer to --help reads better.
    if parser.called_from_command_line:
        parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
    raise CommandError(f"Error: {message}")


def failure_line(exc: BaseException) -> str | None:
    """What to tell the operator for a failure of the environment, or None for a bug."""
    if isinstance(exc, OperationalError | InterfaceError):
        return f"The database failed: {_first_line(exc)} (check DATABASE_URL and that PostgreSQL is up)."
    if isinstance(exc, redis.RedisError | BrokerError):
        return f"Redis failed: {_first_line(exc)} (check REDIS_URL / CELERY_BROKER_URL and that Redis is up)."
    if isinstance(exc, DomainError):  # the services' own refusal: a conflict, an invalid value
        details = "; ".join(f"{field}: {value}" for field, value in exc.details.items())
        return f"{exc.code}: {exc.message}" + (f" ({details})" if details else "")
    if isinstance(exc, ImproperlyConfigured):
        return f"Misconfigured: {_first_line(exc)}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or _first_line(exc)}."
    return None


@contextmanager
def _pool_retries_quiet():
    # The connection pool logs every failed connect while it retries (a dozen lines for one
    # outage); the command's own last line says the database failed and why.
    pool = logging.getLogger("psycopg.pool")
    level = pool.level
    pool.setLevel(logging.ERROR)
    try:
        yield
    finally:
        pool.setLevel(level)


class OperatorCommand(BaseCommand):
    """Subclasses that show progress set ``progress = True`` and wrap long loops in
    :meth:`progress_bar`; the bar goes to stderr, off when stderr is not a terminal or with
    ``--no-progress``."""

    progress = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = partial(_one_line_error, parser)
        if self.progress:
            parser.add_argument("--no-progress", action="store_true", help="No progress bar (also off without a tty).")
        return parser

    def execute(self, *args, **options):
        self._no_progress = bool(options.get("no_progress"))
        try:
            with _pool_retries_quiet():
                return super().execute(*args, **options)
        except CommandError:
            raise
        except Exception as exc:
            line = failure_line(exc)
            if line is None:
                raise
            raise CommandError(line) from exc

    @property
    def show_progress(self) -> bool:
        # self.stderr is the stream call_command() was given once execute() has begun.
        return self.progress and not getattr(self, "_no_progress", False) and self.stderr.isatty()

    def progress_bar(self, iterable=None, **kwargs) -> tqdm:
        return tqdm(iterable, file=sys.stderr, disable=not self.show_progress, **kwargs)
