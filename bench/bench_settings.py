"""The project's settings with the bench-only URLconf (``bench_urls``): served by gunicorn in
``bench/throughput.py``, never by the product."""

from lms.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
