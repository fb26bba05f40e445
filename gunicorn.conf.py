"""gunicorn's configuration for the web process (the Procfile's ``web``).

Every number comes from the environment so one file serves a laptop and a 32-core node.
Threads (gthread) rather than more processes: a request mostly waits on PostgreSQL and
Redis, and each process holds one database pool sized to its threads
(``DATABASE_POOL_MAX_SIZE`` >= ``WEB_THREADS``). ``kill -HUP <master>`` reloads gracefully:
new workers start on the new code and settings, old ones finish their requests first.
"""

import glob
import multiprocessing
import os
import shutil
import sys
import tempfile


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("WEB_BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One process per core by default: threads cover the waiting, processes the CPU.
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count())
worker_class = "gthread"
threads = _int("WEB_THREADS", 4)
# A request that runs longer than this is killed (its worker restarted): the API's slowest
# answers (exports stream from the console, which lives under the same limit) stay well inside.
timeout = _int("WEB_TIMEOUT", 30)
# On reload or stop, workers get this long to finish what they hold.
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)
# Behind a load balancer that keeps connections open, keep-alive must outlast its idle timeout.
keepalive = _int("WEB_KEEPALIVE", 5)
# Recycle a worker after this many requests (jittered so they do not all restart at once):
# bounds any slow leak in a long-lived process.
max_requests = _int("WEB_MAX_REQUESTS", 5000)
max_requests_jitter = _int("WEB_MAX_REQUESTS_JITTER", 500)
# Connections waiting to be accepted by the kernel on the listening socket.
backlog = _int("WEB_BACKLOG", 2048)
# The proxies allowed to set X-Forwarded-* (the load balancer's address in production).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Requests are logged by the application (structured, with the request id); gunicorn's own
# access log would print each one a second time.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
proc_name = "lms-web"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("true", "on", "ok", "y", "yes", "1")


# gunicorn's own lines (the master, worker boots, timeouts) in the application's format, JSON in
# production: the settings' LOGGING with gunicorn's loggers propagating to its one handler.
# LOG_FORMAT's default follows DEBUG, as in lms/settings.py.
def _logconfig() -> dict:
    from lms.logs import logging_config

    log_format = os.environ.get("LOG_FORMAT") or ("console" if _truthy("DEBUG") else "json")
    config = logging_config(log_format=log_format, level=loglevel.upper())
    for name in ("gunicorn.error", "gunicorn.access"):
        config["loggers"][name] = {"handlers": [], "level": loglevel.upper(), "propagate": True}
    return config


logconfig_dict = _logconfig()
# The master's pid, for `kill -HUP $(cat $WEB_PIDFILE)` (graceful reload) from scripts.
pidfile = os.environ.get("WEB_PIDFILE") or None
# TLS in gunicorn itself, for a node with no terminating proxy in front (make prod's local
# certificate); behind a load balancer that terminates TLS leave both unset.
certfile = os.environ.get("WEB_CERTFILE") or None
keyfile = os.environ.get("WEB_KEYFILE") or None
# gunicorn's control socket (gunicornc) defaults to one path per user: a second server on the
# machine (tests, make prod beside make run) would take it over. Only at a path given.
control_socket = os.environ.get("WEB_CONTROL_SOCKET") or "gunicorn.ctl"
control_socket_disable = not os.environ.get("WEB_CONTROL_SOCKET")


# --- Prometheus metrics (METRICS_ENABLED): counters add up over every worker process ---------
# Each worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR and /metrics sums all
# of them, so a scrape answered by one worker counts the requests every worker served, and a
# worker recycled by max_requests keeps its counts. The directory must be empty at each start
# (old files would be counted again) and set before the workers fork: they import
# prometheus_client, which picks its storage at import time, after the fork.
def _metrics_enabled() -> bool:
    return _truthy("METRICS_ENABLED")


def on_starting(server) -> None:
    if not _metrics_enabled():
        return
    if "prometheus_client.values" in sys.modules:
        server.log.warning("preload_app imported prometheus_client before PROMETHEUS_MULTIPROC_DIR was set: "
                           "each worker counts alone and /metrics shows one worker's share")  # fmt: skip
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        directory = tempfile.mkdtemp(prefix="lms-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        server.lms_metrics_tmpdir = directory  # ours to remove on exit


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    directory = getattr(server, "lms_metrics_tmpdir", None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


def pre_request(worker, req):
    # Admission control (lms/admission.py): tell the middleware, which runs next in this same
    # thread, how long this request waited for a thread and how many still wait, so an
    # overloaded process answers 503 at once instead of queueing into its clients' time-outs.
    # The first request of a process arrives before the pool stamps its jobs (no wait known).
    from lms.admission import gunicorn_queue, gunicorn_stamp, queue_note

    queue = gunicorn_queue(worker)
    queue_note(waiting=queue.waiting, threads=queue.threads, waited=queue.waited)
    gunicorn_stamp(worker)
