"""One settings module, driven by environment variables.

Every value has an embedded default that runs on a fresh machine with nothing but Python
(SQLite file, Kombu ``filesystem://`` broker, file cache). Production sets ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``REDIS_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DJANGO_DEBUG=0``;
docs/operations.md lists them all.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config import queues

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "insecure-development-key-set-SECRET_KEY-in-production" if DEBUG else ""
)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DJANGO_DEBUG=0")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Web pages on these origins may call the tracking API (/ingest/) from the browser, with a
# track-only key (comma-separated, e.g. "https://shop.example.com"; "*" for any origin).
TRACKING_CORS_ORIGINS = [origin.rstrip("/") for origin in envlist("TRACKING_CORS_ORIGINS", "")]
# The demo storefront at /demo/shop/: a small web shop that tracks through the API from the
# browser, to watch a cart appear on the customer page. Off unless DEBUG or asked for.
DEMO_STOREFRONT = envbool("DEMO_STOREFRONT", DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not from a CDN
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Ours, in dependency order: security (audit, sign-in, one-time codes) imports none of
    # ours; customers is the core; commerce reacts before journeys.
    "security",
    "customers",
    "channels",
    "commerce",
    "journeys",
    "campaigns",
    "insights",
    # Probes, metrics and structured logs: may import every app above, none imports it.
    "ops",
]

MIDDLEWARE = [
    # Request id, log context and HTTP metrics for every request, the probes included.
    "ops.middleware.RequestContextMiddleware",
    # /healthz, /readyz, /metrics: answered before the host check and the HTTPS redirect.
    "ops.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "channels.cors.TrackingCorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    # A staff member signed in with the password alone reaches only the two-factor pages.
    "security.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin list pages, the dashboard and downloads read the replica, if there is one.
    "config.replica.ReplicaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last (django-axes): turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out username+IP before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "security.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is shared by web, worker and beat under `make run`: WAL lets readers run beside the one
# writer, IMMEDIATE takes the write lock at BEGIN (no upgrade deadlock), and the timeout waits
# for a busy writer instead of failing with "database is locked".
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
# The timeline's query is sent as a prepared statement (config/prepared.py) and planned once
# per connection: planning it over ~40 monthly partitions costs more than running it. Off
# behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode before
# 1.21, or without max_prepared_statements).
DATABASE_PREPARED_STATEMENTS = envbool("DATABASE_PREPARED_STATEMENTS", True)


def postgres_options(options: dict[str, Any]) -> dict[str, Any]:
    """The app's session settings for a PostgreSQL connection. JIT spends longer compiling our
    segment queries than running them (0.4 of 0.6 s for a consent rule over 100k customers):
    off unless the URL sets ``options``. Prepared statements get a generic plan at once; left
    to itself PostgreSQL keeps replanning the timeline for each customer (only prepared
    statements and our triggers' PL/pgSQL are planned under this setting)."""
    options = dict(options)
    # Seconds to wait for PostgreSQL to accept a connection before failing the request (or
    # /readyz's database check) instead of hanging for the system's TCP timeout, minutes.
    options.setdefault("connect_timeout", envint("DATABASE_CONNECT_TIMEOUT", 5))
    options.setdefault("options", "-c jit=off")
    if DATABASE_PREPARED_STATEMENTS and "plan_cache_mode" not in options["options"]:
        options["options"] += " -c plan_cache_mode=force_generic_plan"
    return options


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = postgres_options(DATABASES["default"].get("OPTIONS", {}))
# An optional read replica (a PostgreSQL standby): admin list pages, the insights dashboard and
# the admin's downloads read from it; everything else, and every write, uses the primary
# (config/routers.py, config/replica.py). Tests point it at the test database (MIRROR).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise RuntimeError("DATABASE_REPLICA_URL must use the same database as DATABASE_URL")
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"]["OPTIONS"] = postgres_options(DATABASES["replica"].get("OPTIONS", {}))
    else:
        DATABASES["replica"]["CONN_MAX_AGE"] = 0
        DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"]["OPTIONS"])
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
# After a write (a form saved, an action run) the person's pages read the primary this long,
# so they see their change even if the replica lags behind.
DATABASE_REPLICA_PIN_SECONDS = envint("DATABASE_REPLICA_PIN_SECONDS", 15)
# When the replica fails to answer, pages read the primary this long before trying it again.
DATABASE_REPLICA_RETRY_SECONDS = envint("DATABASE_REPLICA_RETRY_SECONDS", 30)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (Index.include) are a PostgreSQL speed-up; SQLite builds the same index
# without the extra column, so its warning about them says nothing a user can act on.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Cache (throttles, beat heartbeat) ----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A file cache is shared by every local process (web, worker, beat), unlike locmem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [
    ("en", _("English")),
    ("fa", _("Persian")),
    ("ar", _("Arabic")),
    ("az", _("Azerbaijani")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production values switch on with DJANGO_DEBUG=0) ------------------------------
# docs/security.md "Staff sign-in" says what each promises and which test proves it.
SESSION_COOKIE_SECURE = not DEBUG and envbool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# A staff sign-in (password and second factor) lasts one working day, then asks again.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 12 * 3600)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off only where the TLS proxy in front already redirects http:// (SECURE_SSL_REDIRECT=0).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers and Prometheus reach an instance over plain HTTP (ops/middleware.py answers
# these before SecurityMiddleware anyway; this keeps them exempt if the order ever changes).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# HSTS: one year in production. includeSubDomains and preload stay off unless asked for: the
# CRM usually runs on one host of a company domain whose other hosts it cannot vouch for, and
# a preload listing cannot be taken back quickly. Their reminders (W005, W021) are therefore
# silenced; setting either variable turns the header part on.
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS += ["security.W005", "security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Two factors for staff (django-otp: an authenticator app, TOTP, plus one-use backup codes).
# On in production, off under DEBUG so the demo logins of `make run` work with a password.
STAFF_TWO_FACTOR = envbool("STAFF_TWO_FACTOR", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Omnichannel CRM")
# Each wrong code doubles the wait before the device accepts another (1 s, 2 s, 4 s, ...).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# Nobody reads another person's secret or backup codes in the admin (security/admin_users.py
# also takes django-otp's device pages out: an administrator resets, never copies, a device).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Brute-force lockout (django-axes): this many failed sign-ins (passwords or second-factor
# codes) for one username from one IP address lock that pair out for the cool-off time.
AXES_ENABLED = envbool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Attempts during the lockout do not extend it, so the page can say when to try again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
# Masked in axes' logs and stored attempts (passwords always are): a typed code included.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# --- Celery ---------------------------------------------------------------------------------
# pytest-xdist runs several test processes at once: each gets its own broker folder and queue,
# so a real worker started by one test process never takes another's task (and database).
TEST_PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "")
BROKER_DIR = VAR_DIR / "broker" / TEST_PROCESS if TEST_PROCESS else VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Kombu's filesystem transport, with each message file written whole before a worker can
    # see it (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    for folder in ("queue", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    # Redis hands an unacknowledged task to another worker after this long: longer than any
    # countdown the code sets (a delivery's last back-off, 480 s by default; config.W001 warns
    # otherwise) and than the slowest task. Crash recovery does not wait for it: the database
    # sweeps (dispatch_due, requeue_stuck, requeue_stalled) queue lost work again sooner.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 7200)
    }
CELERY_TASK_IGNORE_RESULT = True
# The queues are named after this one, used as their prefix (config/queues.py): a worker
# without -Q consumes them all; the benchmarks and each test process use a prefix of their own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get(
    "CELERY_TASK_DEFAULT_QUEUE", f"celery-{TEST_PROCESS}" if TEST_PROCESS else "celery"
)
CELERY_TASK_QUEUES = queues.declare(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = ("config.queues.route",)
CELERY_TASK_ACKS_LATE = True
# A task keeps running when the broker connection drops (its message goes back to the queue
# and another worker may start it too): cutting it off between the provider's answer and the
# row's "sent" would send twice, while a second run finds the row no longer queued.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A worker process killed mid-task (OOM) does not requeue it, so a task that kills its process
# cannot loop; the database sweeps pick up what it left queued or half-sent.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.api.auth.SourceKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["customers.api.parsers.JSONParser"],  # limits: tests/security
    "EXCEPTION_HANDLER": "customers.api.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnichannel CRM API",
    "DESCRIPTION": "Tracking API (Segment-compatible) and REST API for storefronts. "
    "Authenticate with a source's API key: HTTP Basic (key as user name, empty password) "
    "or `Authorization: Bearer <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets used by several serializers get one name each (not a hash-suffixed guess).
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "customers.models.ChannelKind",
        "ConsentStatusEnum": "customers.models.Consent.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "crm@localhost")

# --- Outbound messages (channels) --------------------------------------------------------------
# Marketing goes out only inside this local send window of the customer (a channel may set its
# own); "" turns the default window off. Transactional messages are never held by it.
DELIVERY_SEND_WINDOW = os.environ.get("DELIVERY_SEND_WINDOW", "09:00-21:00")
# One reminder per intent within this many hours; a campaign yields to a reminder the same day.
DELIVERY_ARBITRATION_HOURS = envint("DELIVERY_ARBITRATION_HOURS", 24)
# Transient failures are retried with exponential backoff up to this many attempts.
DELIVERY_MAX_ATTEMPTS = envint("DELIVERY_MAX_ATTEMPTS", 6)
DELIVERY_RETRY_BASE_SECONDS = envint("DELIVERY_RETRY_BASE_SECONDS", 30)
# A message "sending" for longer than this was cut off by a crash: it is queued again.
DELIVERY_SENDING_TIMEOUT_SECONDS = envint("DELIVERY_SENDING_TIMEOUT_SECONDS", 600)
# A fan-out hands its messages to the workers in tasks of this many.
DELIVERY_TASK_CHUNK = envint("DELIVERY_TASK_CHUNK", 200)
# How many due messages one sweep hands to the workers.
DELIVERY_SWEEP_BATCH = envint("DELIVERY_SWEEP_BATCH", 500)

# Back in stock: how many alerts one batch notifies per unit in stock (1.5: some will not buy).
BACK_IN_STOCK_BATCH_MULTIPLIER = float(os.environ.get("BACK_IN_STOCK_BATCH_MULTIPLIER", "1.5"))

# Cart reminders carry a link that restores the live cart on any channel: /cart/<token>/ sends
# the browser to the shop's restore page ({token} is replaced; the shop then calls
# POST /api/v1/cart-restores), or shows the cart itself when this is empty.
CART_RESTORE_URL = os.environ.get("CART_RESTORE_URL", "")
CART_RESTORE_MAX_AGE = envint("CART_RESTORE_MAX_AGE_DAYS", 30) * 24 * 3600

# Campaigns: scheduling one that would reach more customers than this needs the
# "approve campaign" permission (0: never).
CAMPAIGN_APPROVAL_SIZE = envint("CAMPAIGN_APPROVAL_SIZE", 50_000)
# A run's fan-out: this many chunk tasks side by side (one under a per-minute throttle).
CAMPAIGN_FANOUT_CHAINS = envint("CAMPAIGN_FANOUT_CHAINS", 2)
# A sending run that handed nothing over for this long lost its chunk chains (a killed worker).
CAMPAIGN_STALLED_SECONDS = envint("CAMPAIGN_STALLED_SECONDS", 180)
# PostgreSQL work_mem for a run's audience query (SET LOCAL, that transaction only): room
# to hash a large audience in memory, not in batches on disk ("" keeps the server's).
SEGMENT_WORK_MEM = os.environ.get("SEGMENT_WORK_MEM", "64MB")

# Support cases: an unresolved case without a first response this long after it opened is
# overdue in the agents' queue.
CASE_FIRST_RESPONSE_SLA_HOURS = envint("CASE_FIRST_RESPONSE_SLA_HOURS", 4)

# A journey's goal (an order) counts as its conversion within this long after its last message,
# by that message's channel; other channels use the journey's own goal window.
JOURNEY_ATTRIBUTION_WINDOWS = {
    "sms": timedelta(hours=envint("JOURNEY_SMS_ATTRIBUTION_HOURS", 24)),
    "whatsapp": timedelta(hours=envint("JOURNEY_SMS_ATTRIBUTION_HOURS", 24)),
    "email": timedelta(days=envint("JOURNEY_EMAIL_ATTRIBUTION_DAYS", 5)),
}

# --- Identity resolution --------------------------------------------------------------------
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "IR").upper()
# Values that storefront forms and SDKs send when they have nothing real. They never identify
# anyone, so they can never merge two people (Segment's "blocked values" merge protection).
IDENTITY_JUNK_VALUES = [
    "null",
    "none",
    "nil",
    "undefined",
    "unknown",
    "n/a",
    "na",
    "-",
    "0",
    "test",
    "anonymous",
    "test@test.com",
    "test@example.com",
    "example@example.com",
    "email@example.com",
    "noemail@noemail.com",
    "no@email.com",
    "none@none.com",
    "a@a.com",
    "0000000000",
    "00000000000",
    "1111111111",
    "1234567890",
    "123456789",
    *envlist("IDENTITY_JUNK_VALUES_EXTRA", ""),
]
# How many identities of one kind one customer may hold; beyond it a new value is not attached
# (Segment's "limit" merge protection). A customer has at most one user_id, always.
IDENTITY_LIMITS = {"user_id": 1, "email": 10, "phone": 10, "anonymous_id": 200}
IDENTITY_DEFAULT_LIMIT = 20

# --- Operations (ops/) ----------------------------------------------------------------------
# "json": one JSON object per log line (time, level, logger, message, request_id, task and
# customer when known); "text": the plain lines for a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
# GET /metrics answers `Authorization: Bearer <METRICS_TOKEN>` only; unset, /metrics is off.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# /readyz fails when beat's heartbeat (written every 60 s) is older than this many seconds.
READYZ_HEARTBEAT_MAX_AGE = envint("READYZ_HEARTBEAT_MAX_AGE", 180)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "filters": {
        "context": {"()": "ops.logs.ContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (debug only) would print each of its lines a second
        # time, unformatted, beside the root's: its lines go to the root alone.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        # httpx logs full request URLs at INFO; SMS gateways put API keys in them.
        "httpx": {"level": "WARNING"},
        # django-axes says "BEGIN version …" at every start; failed sign-ins stay (WARNING).
        "axes": {"level": "WARNING"},
    },
}

# --- Secrets at rest (security/crypto.py) ------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts channel secrets, every one decrypts (rotation:
# put the new key first, run `manage.py rotate_secrets`, then drop the old one).
CRM_ENCRYPTION_KEYS = envlist("CRM_ENCRYPTION_KEYS", "")
# Development only: without keys, DEBUG derives one from SECRET_KEY. With DEBUG off and no key,
# the system check security.E001 refuses to start.
CRM_ENCRYPTION_KEY_FROM_SECRET_KEY = DEBUG and not CRM_ENCRYPTION_KEYS
