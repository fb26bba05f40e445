"""The project's settings with a slow view added (lms/tests/admission_urls.py): served by the real
gunicorn of ``lms/tests/test_admission.py``, never by the product."""

from lms.settings import *  # noqa: F403

ROOT_URLCONF = "lms.tests.admission_urls"
