"""What every bench script shares: its own PostgreSQL database (created when missing, and
never one whose name lacks "bench", since benches truncate), production-shaped settings, and
the line describing the machine that goes beside every figure."""

import contextlib
import cProfile
import os
import platform
import pstats
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure_environment(default_url: str, **settings: str) -> str:
    """DATABASE_URL (default ``default_url``), DEBUG off and a random SECRET_KEY unless set,
    plus the bench's own ``settings`` (throttle rates, ...) as environment defaults."""
    url = os.environ.setdefault("DATABASE_URL", default_url)
    # Production settings for what is measured: no per-query debug recording.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # plain http on 127.0.0.1
    for name, value in settings.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")
    sys.path.insert(0, str(ROOT))
    return url


def ensure_database(url: str) -> str:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname", "")
    if "bench" not in name:
        sys.exit(f"Refusing to run on database {name!r}: the benchmark truncates tables; use a *bench* database.")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    return name


def django_ready(url: str) -> str:
    """The database made and migrated, Django set up; answers the database's name."""
    name = ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return name


def machine() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {
        "cpus (nproc)": nproc,
        "cpu": cpu,
        "memory": f"{total_kb / 1024 / 1024:.1f} GiB",
        "postgresql": server,
        "cache": backend if "Redis" in backend else f"{backend} (REDIS_URL not set: not the production shape)",
        "python": platform.python_version(),
        "os": platform.platform(),
        "load average": " ".join(f"{load:.1f}" for load in os.getloadavg()),
    }


def machine_line(name: str) -> str:
    return f"database {name}; " + "; ".join(f"{key} {value}" for key, value in machine().items())


@contextlib.contextmanager
def profiled(enabled: bool, label: str):
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        for order in ("tottime", "cumulative"):
            print(f"\n--- cProfile of {label} (by {order}, top 30) ---")
            pstats.Stats(profiler).sort_stats(order).print_stats(30)
