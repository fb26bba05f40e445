"""LMS settings: one module, driven by the environment.

With no environment at all the project runs on an embedded default (SQLite in ``var/``,
Celery tasks run eagerly, local-memory cache, console email) so ``make run`` needs nothing
installed. ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` switch on the production shape.
Every setting read here is listed in the README.
"""

from copy import deepcopy
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from kombu import Queue

from lms.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# --- Core -----------------------------------------------------------------------------------

# The development key is public (it is in this file): it signs nothing outside DEBUG, and a
# deployment that forgets DEBUG gets no tracebacks and no default key. `make run` sets DEBUG.
DEV_SECRET_KEY = "dev-insecure-lms-secret-key-change-me-in-production-0123456789"
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("DEBUG is off and SECRET_KEY is not set: set SECRET_KEY (or DEBUG=true to develop).")
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("DEBUG is off but SECRET_KEY is the development key: set SECRET_KEY.")
    if JWT_SIGNING_KEY in (DEV_SECRET_KEY, ""):
        raise ImproperlyConfigured(
            "DEBUG is off but JWT_SIGNING_KEY is the development key or empty: set it, or unset it (SECRET_KEY signs)."
        )
    # HS256 wants a key of at least its hash's size; a short one can be guessed offline from any token.
    if len(JWT_SIGNING_KEY.encode()) < 32:
        raise ImproperlyConfigured(
            "DEBUG is off and JWT_SIGNING_KEY (or SECRET_KEY) is under 32 bytes: use a longer one."
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The console's theme (django-unfold) comes before the admin it restyles.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",
    "simple_history",
    "lms",
    "accounts",
    "commerce",
    "segments",
    "campaigns",
    "loyalty",
    "promotions",
    "notifications",
    "console",  # last: it restyles the other apps' admins and reads every app
]

MIDDLEWARE = [
    # first: every answer (a preflight, a 503 from below, a 404) carries X-Request-ID and gets
    # its access line, and every log line written while handling it has the request id.
    "lms.request_log.RequestLogMiddleware",
    # metrics: outermost after the request id (which answers nothing itself), so it counts and
    # times every answer, the ones other middleware give too.
    "lms.metrics.RequestMetricsMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # first: a preflight is answered before anything else runs
    "lms.admission.AdmissionMiddleware",  # load shedding: 503 before any work when the process is overloaded
    "django.middleware.security.SecurityMiddleware",
    "lms.middleware.DatabaseUnavailableMiddleware",  # 503 when PostgreSQL is down, outside DRF too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who changed a campaign in the console
]

ROOT_URLCONF = "lms.urls"
WSGI_APPLICATION = "lms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# The reports' covering indexes carry extra columns (INCLUDE), a PostgreSQL feature: the embedded
# SQLite builds them as plain indexes, which is all make run needs; no warning on every command.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if DATABASES["default"]["ENGINE"].endswith("sqlite3") else []
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails a request in seconds (503 unavailable), not after
    # the kernel's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2)
    )
    # Django's own psycopg 3 pool; CONN_MAX_AGE must stay 0 with it. A pool per process:
    # size it to the threads a process runs (gunicorn threads, Celery concurrency).
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # The pool hands out only connections that answer (one empty round trip), so the first
        # requests after a database restart do not fail on connections it dropped.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_HEALTH_CHECKS", default=True)
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
            # How long a request waits for a connection (all busy, or the database down).
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3),
        }
else:
    VAR_DIR.mkdir(exist_ok=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # Writers take the lock when their transaction starts (not half-way, when SQLite
        # would answer "database is locked"), wait for each other, and readers don't block.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL;"
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Read replica (scaling: lms/db_router.py, docs/SCALING.md) -------------------------------

# A streaming replica of DATABASE_URL's database. Only reads inside ``replica_reads()`` go to
# it (segment refresh's evaluation, the console's reports and dashboard, CSV exports); every
# other read and every write stays on the primary. Empty: no replica, all on the primary.
REPLICA_URL = env.str("REPLICA_URL", default="")
# After the replica fails to answer, read from the primary this long before trying it again.
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=30)
if REPLICA_URL:
    # The primary's connect timeout and pool, per process (the URL's own options win).
    DATABASES["replica"] = {
        **{key: value for key, value in DATABASES["default"].items() if key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")},
        **env.db_url_config(REPLICA_URL),
    }
    DATABASES["replica"]["OPTIONS"] = {
        **deepcopy(DATABASES["default"].get("OPTIONS", {})),
        **DATABASES["replica"].get("OPTIONS", {}),
    }
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("REPLICA_URL must name the same kind of database as DATABASE_URL.")
    # The test suite has no replica: its reads in scope go to the test database itself.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["lms.db_router.ReplicaRouter"]

# --- Cache, broker, Celery ------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=1)  # seconds, to connect and per command
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, failing soft: with Redis down reads miss, writes are
            # dropped (logged), and throttles let requests through (lms/api/throttling.py).
            "BACKEND": "lms.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="lms"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
                # After a failure, answer misses without trying Redis for this many seconds.
                "FAILURE_PAUSE": env.float("REDIS_FAILURE_PAUSE", default=5),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
# Without a broker the embedded default runs every task in the calling process.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL.startswith(("redis", "amqp"))
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it has run, and a worker that dies mid-task gives it
# back: tasks are written to be idempotent, so a redelivery never sends twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("otp"), Queue("notifications"), Queue("default"))
# OTP and password mail have their own small queue so they never wait behind a bulk send.
CELERY_TASK_ROUTES = {
    "accounts.tasks.otp_email_send_task": {"queue": "otp"},
    "accounts.tasks.password_reset_email_send_task": {"queue": "otp"},
    "notifications.tasks.*": {"queue": "notifications"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A dead or hung broker fails a publish within seconds and the outbox (lms/outbox.py)
    # keeps the task. The socket timeout must exceed the workers' 1 s BRPOP poll.
    "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=1),
    "socket_timeout": env.float("CELERY_BROKER_TIMEOUT", default=2),
}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Publishes the outbox rows whose on-commit dispatch found the broker down.
    "outbox-sweep": {"task": "lms.tasks.outbox_sweep_task", "schedule": 60.0},
    # Data retention (ops): every app's rows past their RETENTION_*_DAYS age, and expired tokens.
    "records-prune": {"task": "lms.tasks.records_prune_task", "schedule": crontab(hour=3, minute=10)},
    "segments-refresh": {
        "task": "segments.tasks.segments_refresh_all_task",
        "schedule": crontab(minute=env.int("SEGMENTS_REFRESH_MINUTE", default=20)),  # hourly
    },
    # The cart refusals counted in Redis into campaigns' RefusalCount (idempotent: rows are set).
    "campaigns-refusals-rollup": {"task": "campaigns.tasks.refusals_rollup_task", "schedule": 300.0},
    # Revenue with vs without a campaign per closed day, recomputed where orders or checkouts changed.
    "campaigns-revenue-rollup": {"task": "campaigns.tasks.revenue_days_rollup_task", "schedule": 300.0},
    "loyalty-points-expire": {"task": "loyalty.tasks.points_expire_task", "schedule": crontab(hour=2, minute=30)},
    "loyalty-tiers-reevaluate": {"task": "loyalty.tasks.tiers_reevaluate_task", "schedule": crontab(hour=4, minute=0)},
    # Scheduled promotions go out within a minute of their send_at; sent ones are settled to SENT.
    "promotions-send-due": {"task": "promotions.tasks.promotions_send_due_task", "schedule": 60.0},
    # Re-dispatches notification deliveries left PENDING or SENDING past their lease, and
    # fan-outs that stopped (notifications.services.dispatch.deliveries_sweep).
    "notifications-sweep": {"task": "notifications.tasks.deliveries_sweep_task", "schedule": 60.0},
    # After the night's expiry (02:30) and tier (04:00) runs: 10:00 in Asia/Kolkata.
    "loyalty-points-expiring-notify": {
        "task": "loyalty.tasks.points_expiring_notify_task",
        "schedule": crontab(hour=env.int("POINTS_EXPIRING_NOTIFY_HOUR", default=4), minute=30),
    },
}

# --- Admission control (lms/admission.py; gunicorn.conf.py's pre_request hook) --------------

# A web process answers 503 overloaded (with Retry-After) at once, before any database work,
# once the requests it takes have all waited longer than ADMISSION_MAX_WAIT_MS for a gunicorn
# thread for ADMISSION_WAIT_INTERVAL_MS (a standing queue, not a passing burst; past that wait
# an interactive caller, a checkout, has given up or is about to), or when more than
# ADMISSION_QUEUE_PER_THREAD requests per thread wait behind one (the backstop for a request
# whose wait is unknown). The probes (and /metrics) are never shed.
ADMISSION_ENABLED = env.bool("ADMISSION_ENABLED", default=True)
ADMISSION_MAX_WAIT_MS = env.int("ADMISSION_MAX_WAIT_MS", default=500)
ADMISSION_WAIT_INTERVAL_MS = env.int("ADMISSION_WAIT_INTERVAL_MS", default=100)
ADMISSION_QUEUE_PER_THREAD = env.int("ADMISSION_QUEUE_PER_THREAD", default=16)
ADMISSION_RETRY_AFTER = env.int("ADMISSION_RETRY_AFTER", default=1)
ADMISSION_EXEMPT_PATHS = env.list("ADMISSION_EXEMPT_PATHS", default=["/healthz", "/readyz", "/metrics"])
if min(ADMISSION_MAX_WAIT_MS, ADMISSION_WAIT_INTERVAL_MS, ADMISSION_QUEUE_PER_THREAD) < 0 or ADMISSION_RETRY_AFTER < 1:
    raise ImproperlyConfigured(
        "ADMISSION_MAX_WAIT_MS, ADMISSION_WAIT_INTERVAL_MS and ADMISSION_QUEUE_PER_THREAD must be >= 0, "
        "ADMISSION_RETRY_AFTER >= 1."
    )

# --- Auth -----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# The console is the only page with a sign-in form. Unfold's login page drops the admin's hidden
# "next" field, so signing in at /admin/login/ itself would land on Django's default
# /accounts/profile/ (a 404).
LOGIN_REDIRECT_URL = "admin:index"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

OTP_TTL = timedelta(seconds=env.int("OTP_TTL_SECONDS", default=300))
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
EMAIL_VERIFICATION_TOKEN_TTL = timedelta(seconds=env.int("EMAIL_VERIFICATION_TOKEN_TTL_SECONDS", default=1800))
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
PASSWORD_RESET_URL = env.str("PASSWORD_RESET_URL", default="http://127.0.0.1:8000/auth/reset-password")

# Product stock levels for segment criteria: "low" is below SEGMENTS_LOW_STOCK units (and
# above zero), "overstock" above SEGMENTS_OVERSTOCK.
SEGMENTS_LOW_STOCK = env.int("SEGMENTS_LOW_STOCK", default=10)
SEGMENTS_OVERSTOCK = env.int("SEGMENTS_OVERSTOCK", default=500)

# How an exclusive campaign is weighed against the others on a cart: "priority" (the first
# exclusive campaign by priority that gives something applies alone) or "best" (the customer
# gets the larger of the best exclusive campaign and the stack of the others).
CAMPAIGNS_EXCLUSIVE_POLICY = env.str("CAMPAIGNS_EXCLUSIVE_POLICY", default="priority")
if CAMPAIGNS_EXCLUSIVE_POLICY not in ("priority", "best"):
    raise ImproperlyConfigured(f"CAMPAIGNS_EXCLUSIVE_POLICY is {CAMPAIGNS_EXCLUSIVE_POLICY!r}: use priority or best.")

# A simulation (POST campaigns/{id}/simulate) over at most this many orders answers inline;
# a larger window runs as a Celery task the caller polls.
SIMULATION_INLINE_MAX_ORDERS = env.int("SIMULATION_INLINE_MAX_ORDERS", default=5000)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    # The seed service's session lasted one day.
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_REFRESH_MINUTES", default=24 * 60)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    # Tokens carry a digest of the password hash: a password changed any way at all (reset,
    # console, `manage.py changepassword`) ends every token issued before.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# --- API platform ---------------------------------------------------------------------------

# A valid integration API key is remembered by each process this long: a key revoked in
# another process (or straight in the database) keeps working at most this many seconds.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, refusing the tokens of a session that was signed out, reset or revoked.
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["lms.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "lms.api.pagination.PageLimitPagination",
    "PAGE_SIZE": 10,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "lms.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "lms.api.throttling.AnonRateThrottle",
        "lms.api.throttling.UserRateThrottle",
    ],
    # Rates are "N/s|m|h|d"; throttles count in the default cache (Redis in production).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="300/m"),
        "user": env.str("THROTTLE_USER", default="1200/m"),
        "otp_send_email": env.str("THROTTLE_OTP_SEND_EMAIL", default="5/h"),
        "otp_send_ip": env.str("THROTTLE_OTP_SEND_IP", default="30/h"),
        "otp_verify_ip": env.str("THROTTLE_OTP_VERIFY_IP", default="60/h"),
        # Wrong passwords: per address from one IP (the lockout), per address from anywhere
        # (looser: a stranger alone cannot reach it from one client), per IP.
        "signin_failure_email_ip": env.str("THROTTLE_SIGNIN_FAILURE_EMAIL_IP", default="10/h"),
        "signin_failure_email": env.str("THROTTLE_SIGNIN_FAILURE_EMAIL", default="100/h"),
        "signin_failure_ip": env.str("THROTTLE_SIGNIN_FAILURE_IP", default="50/h"),
        "password_forgot_email": env.str("THROTTLE_PASSWORD_FORGOT_EMAIL", default="5/h"),
        "password_forgot_ip": env.str("THROTTLE_PASSWORD_FORGOT_IP", default="30/h"),
        "integration": env.str("THROTTLE_INTEGRATION", default="6000/m"),
        # A customer's own token on the cart routes (API keys and ADMINs have "integration").
        "cart_customer": env.str("THROTTLE_CART_CUSTOMER", default="60/m"),
        # Answers of code_unknown (a coupon code guessed wrong), per customer, client address, API key.
        "cart_unknown_code_customer": env.str("THROTTLE_CART_UNKNOWN_CODE_CUSTOMER", default="20/h"),
        "cart_unknown_code_ip": env.str("THROTTLE_CART_UNKNOWN_CODE_IP", default="100/h"),
        "cart_unknown_code_key": env.str("THROTTLE_CART_UNKNOWN_CODE_KEY", default="3000/h"),
        "cart_unknown_code_guest": env.str("THROTTLE_CART_UNKNOWN_CODE_GUEST", default="1000/h"),
    },
    # Proxies in front of the app; 0 trusts no X-Forwarded-For (a client cannot dodge IP throttles).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LMS API",
    "DESCRIPTION": "Loyalty Management System: campaigns, coupons, loyalty points, segments, "
    "promotions and notifications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # ReDoc's default theme asks for Montserrat and Roboto, which only a font CDN would supply.
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif"},
            }
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["lms.api.schema.canonical_only"],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "commerce.models.OrderStatus",
        "EventKindEnum": "commerce.models.EventKind",
        "SegmentKindEnum": "segments.models.Segment.Kind",
        "SegmentStatusEnum": "segments.models.Segment.Status",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "RedemptionStatusEnum": "campaigns.models.RedemptionStatus",
        "CampaignKindEnum": "campaigns.models.CampaignKind",
        "DiscountRuleTypeEnum": "campaigns.models.DiscountRule.RuleType",
        "EarningRuleTypeEnum": "loyalty.models.EarningRule.RuleType",
        "CampaignAudienceEnum": "campaigns.models.Audience",
        "PromotionAudienceEnum": "promotions.models.PromotionAudience",
        "PromotionStatusEnum": "promotions.models.PromotionStatus",
        # Campaign notifications, loyalty messages and promotions name the same four channels.
        "ChannelEnum": "notifications.models.Channel",
        "DeliveryStatusEnum": "notifications.models.DeliveryStatus",
        "MessageStatusEnum": "notifications.models.MessageStatus",
    },
}

# --- Email ----------------------------------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LMS <no-reply@lms.local>")

# --- Notifications --------------------------------------------------------------------------

# Recipients written per fan-out transaction (and sent per dispatch task).
NOTIFICATIONS_FANOUT_BATCH = env.int("NOTIFICATIONS_FANOUT_BATCH", default=1000)
# Recipients per send task (a fan-out batch is split into tasks this size: short tasks keep a
# worker process free often, so other work on its queues never waits long).
NOTIFICATIONS_SEND_TASK_SIZE = env.int("NOTIFICATIONS_SEND_TASK_SIZE", default=250)
# The provider of each channel (notifications/providers/): EMAIL goes through Django's email
# backends (EMAIL_BACKEND, or NOTIFICATIONS_EMAIL_BACKEND for notifications alone); SMS and
# PUSH through Apprise URLs (notifications.providers.apprise.AppriseProvider), or the console
# (make run) and locmem (tests) providers. IN_APP has none: the inbox row is the send.
NOTIFICATIONS_PROVIDERS = {
    "EMAIL": env.str("NOTIFICATIONS_EMAIL_PROVIDER", default="notifications.providers.email.EmailProvider"),
    "SMS": env.str("NOTIFICATIONS_SMS_PROVIDER", default="notifications.providers.console.ConsoleProvider"),
    "PUSH": env.str("NOTIFICATIONS_PUSH_PROVIDER", default="notifications.providers.console.ConsoleProvider"),
}
NOTIFICATIONS_EMAIL_BACKEND = env.str("NOTIFICATIONS_EMAIL_BACKEND", default="")
NOTIFICATIONS_FROM_EMAIL = env.str("NOTIFICATIONS_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
# Apprise URLs; {to} becomes the phone number or the device token (twilio://SID:TOKEN@FROM/{to}).
NOTIFICATIONS_SMS_URL = env.str("NOTIFICATIONS_SMS_URL", default="")
NOTIFICATIONS_PUSH_URL = env.str("NOTIFICATIONS_PUSH_URL", default="")
# Where the click and unsubscribe links in messages point (this site's public origin).
NOTIFICATIONS_BASE_URL = env.str("NOTIFICATIONS_BASE_URL", default="http://127.0.0.1:8000")
NOTIFICATIONS_SITE_NAME = env.str("NOTIFICATIONS_SITE_NAME", default="LMS")
# The right-hand side of Message-IDs: <delivery-<id>.<hash>@domain>.
NOTIFICATIONS_MESSAGE_ID_DOMAIN = env.str(
    "NOTIFICATIONS_MESSAGE_ID_DOMAIN", default=NOTIFICATIONS_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "lms.local"
)
# Marketing messages a customer gets per 24 h on EMAIL/SMS/PUSH (0: no cap; in-app not counted).
NOTIFICATIONS_DAILY_CAP = env.int("NOTIFICATIONS_DAILY_CAP", default=5)
# Default quiet hours ("22:00-08:00"; empty: none), judged in the customer's zone (the site's
# when they set none); a customer's own Preference window wins. Marketing due inside them
# waits for their end.
NOTIFICATIONS_QUIET_HOURS = env.str("NOTIFICATIONS_QUIET_HOURS", default="")
# Transient failures retry with doubling backoff from this many seconds, up to this many attempts.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
NOTIFICATIONS_RETRY_BACKOFF_SECONDS = env.int("NOTIFICATIONS_RETRY_BACKOFF_SECONDS", default=60)
# A row SENDING longer than this is taken over by the sweeper (its worker died).
NOTIFICATIONS_LEASE_SECONDS = env.int("NOTIFICATIONS_LEASE_SECONDS", default=300)
# Rows claimed at a time by a dispatcher (the most a killed worker can leave in flight).
NOTIFICATIONS_SEND_CHUNK = env.int("NOTIFICATIONS_SEND_CHUNK", default=50)
# The sweeper re-dispatches rows due this long ago, and restarts fan-outs idle this long.
NOTIFICATIONS_SWEEP_GRACE_SECONDS = env.int("NOTIFICATIONS_SWEEP_GRACE_SECONDS", default=120)
NOTIFICATIONS_FANOUT_STALL_SECONDS = env.int("NOTIFICATIONS_FANOUT_STALL_SECONDS", default=300)

# --- Data retention (ops): manage.py prune_records and the nightly records-prune beat job ----
# Rows older than this many days are deleted in batches; 0 keeps them forever.
# Login and interaction events feed segment criteria whose windows reach 3650 days
# (segments' MAX_WINDOW_DAYS): the defaults exceed it, and a shorter age gets a system-check warning.
RETENTION_LOGIN_EVENTS_DAYS = env.int("RETENTION_LOGIN_EVENTS_DAYS", default=3660)
RETENTION_EVENTS_DAYS = env.int("RETENTION_EVENTS_DAYS", default=3660)
# OTP codes live minutes; the rows are an audit trail (the old auth-records-prune kept 7 days).
RETENTION_OTP_DAYS = env.int("RETENTION_OTP_DAYS", default=7)
# Final deliveries of finished messages: the inbox, promotion counts and delivery-rate reports
# lose what is older. A year of reports and a month more; at least 2 (the daily cap's day).
RETENTION_DELIVERIES_DAYS = env.int("RETENTION_DELIVERIES_DAYS", default=400)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)

# --- I18n, time, static ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True

# --- Static files (prod owns this block) ---------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=None)  # set it (and run collectstatic) in production
# Collected (STATIC_ROOT set): names carry a hash of the content and are stored gzip and brotli
# compressed, so whitenoise serves them with a far-future, immutable Cache-Control and a deploy
# never leaves a browser on a stale asset. Not collected (make run, tests): the apps' own files.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_ROOT
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve from the apps' static folders when collectstatic has not run (make run, tests).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not STATIC_ROOT)

# --- Console (django-unfold; its fonts, icons and Chart.js are served from its static files) -

UNFOLD = {
    "SITE_TITLE": "LMS console",
    "SITE_HEADER": "LMS console",
    "SITE_SUBHEADER": "Campaigns, loyalty and audience",
    "SITE_SYMBOL": "loyalty",
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    # Through the storage, so a collected deploy links the hashed (long-cached) name.
    "STYLES": [lambda request: static("console/console.css")],
    "SIDEBAR": {"show_search": True, "show_all_applications": False, "navigation": "console.navigation.sidebar"},
}

# --- Security: production defaults; DEBUG (make run, http on 127.0.0.1) relaxes them ---------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes inside the network speak plain http to the app.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Only a proxy we sit behind may tell us the original scheme; without one a client could.
if env.bool("SECURE_PROXY_SSL_HEADER", default=REST_FRAMEWORK["NUM_PROXIES"] > 0):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Metrics (Prometheus, /metrics) ----------------------------------------------------------

# Off by default: /metrics answers 404. With METRICS_TOKEN set a scrape must send
# "Authorization: Bearer <token>" (401 without it), so it can be on in production without
# being public. Under gunicorn, PROMETHEUS_MULTIPROC_DIR (an environment variable that
# gunicorn.conf.py sets to a fresh directory) adds up the counters of every worker process.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Prometheus, like the probes, scrapes from inside the network over plain http.
SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^metrics$"]

# Browser apps on these origins may call the API (django-cors-headers); none by default.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_HEADERS = (*default_cors_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After", "Idempotent-Replayed"]

# --- Logs (structured, with the request id: lms/logs.py, lms/request_log.py) ------------------

# json: one JSON object per line (production); console: readable lines (make run, the tests).
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}: use json or console.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# Browser apps may send their own request id and read the one we answered with.
CORS_ALLOW_HEADERS = (*CORS_ALLOW_HEADERS, "x-request-id")
CORS_EXPOSE_HEADERS = [*CORS_EXPOSE_HEADERS, "X-Request-ID"]

# --- Error reporting (prod owns this block): Sentry, switched on by SENTRY_DSN alone --------

SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
        # Performance traces cost a request's worth of data each: off unless asked for.
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        # Customers' emails, IPs and cookies never leave for a third party: not as the user, not
        # in a request body (sign-ins, carts), not as a task's arguments or a frame's variables.
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
