"""gunicorn's configuration for the web process (the Procfile's ``web``).

Every number comes from the environment so one file serves a laptop and a 32-core node.
Threads (gthread) rather than more processes: a request mostly waits on PostgreSQL and
Redis, and each process holds one database pool sized to its threads
(``DATABASE_POOL_MAX_SIZE`` >= ``WEB_THREADS``). ``kill -HUP <master>`` reloads gracefully:
new workers start on the new code and settings, old ones finish their requests first.
"""

import multiprocessing
import os


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


def pre_request(worker, req):
    # Admission control (lms/admission.py): tell the middleware, which runs next in this same
    # thread, how long this request waited for a thread and how many still wait, so an
    # overloaded process answers 503 at once instead of queueing into its clients' time-outs.
    # The first request of a process arrives before the pool stamps its jobs (no wait known).
    from lms.admission import gunicorn_queue, gunicorn_stamp, queue_note

    queue = gunicorn_queue(worker)
    queue_note(waiting=queue.waiting, threads=queue.threads, waited=queue.waited)
    gunicorn_stamp(worker)
