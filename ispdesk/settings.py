"""ispdesk settings, read from the environment (and a `.env` file when present).

Every variable is documented in `.env.example`. Helpers in `ispdesk.lib.env` reject bad
values with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import zoneinfo
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from ispdesk.lib.env import ConfigError, Env

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

load_dotenv(PROJECT_DIR / ".env", override=False)
env = Env()

TESTING = env.bool("ISPDESK_TESTING", "pytest" in sys.modules)
DEMO = env.bool("ISPDESK_DEMO", False)
DEBUG = env.bool("DEBUG", False)
DATA_DIR = Path(env.str("ISPDESK_DATA_DIR", str(PROJECT_DIR / "var"))).resolve()


def _secret_key() -> str:
    key = env.str("SECRET_KEY")
    if key:
        if len(key) < 32 and not (DEBUG or DEMO or TESTING):
            raise ConfigError("SECRET_KEY", "must be at least 32 characters long")
        return key
    if not (DEBUG or DEMO or TESTING):
        raise ConfigError(
            "SECRET_KEY",
            "is required outside debug/demo mode; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`",
        )
    # Debug and demo keep a generated key under the data directory so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(50)
        path.write_text(generated)
        path.chmod(0o600)
        return generated


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["*"] if (DEBUG or DEMO) else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")

HTTPS = env.bool("ISPDESK_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=300)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    # Only for its static Swagger UI files: /api/docs must work without Internet access.
    "ninja",
    "django_htmx",
    "axes",
    "ispdesk.system",
    "ispdesk.accounts",
    "ispdesk.jobs",
    "ispdesk.realtime",
    "ispdesk.operators",
    "ispdesk.tickets",
    "ispdesk.messaging",
    "ispdesk.contacts",
    "ispdesk.conversations",
    "ispdesk.pipeline",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ispdesk.lib.locale.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ispdesk.api_errors.ApiErrorMiddleware",
    # Last, so it sees the outcome of authentication (django-axes' documented position).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ispdesk.urls"
ASGI_APPLICATION = "ispdesk.asgi.application"

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
                "ispdesk.system.context_processors.system",
                "ispdesk.tickets.context_processors.tickets",
                "ispdesk.messaging.context_processors.messaging",
            ],
        },
    },
]

# Database --------------------------------------------------------------------------------
DEFAULT_SQLITE = DATA_DIR / "ispdesk.sqlite3"
DATABASE_URL = env.str("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE}")
SQLITE_BUSY_TIMEOUT = env.int("SQLITE_BUSY_TIMEOUT", 20, minimum=1)


def _database(url: str) -> dj_database_url.DBConfig:
    if url.startswith("mariadb://"):
        url = "mysql://" + url.removeprefix("mariadb://")  # Django's MySQL backend serves both
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except (ValueError, KeyError) as exc:
        raise ConfigError("DATABASE_URL", f"cannot be parsed ({exc})") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        name = str(config["NAME"])
        if name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        # A connection stays open with its thread: opening one runs the PRAGMAs below and
        # registers Django's ~30 SQL functions, which cost the embedded server's webhook
        # more than its insert did (py-spy, issue 7). SQLite has no server to hold it.
        config["CONN_MAX_AGE"] = None
        # Django's backend, with the process's writers queued rather than polling the lock.
        config["ENGINE"] = "ispdesk.lib.sqlite_backend"
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the
            # busy timeout instead of failing with "database is locked" mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Tests use a file too, one per test run: threads sharing an in-memory database fail
        # at once with "table is locked" instead of waiting, unlike WAL in production.
        test_name = Path(tempfile.gettempdir()) / f"ispdesk-test-{os.getpid()}.sqlite3"
        config["TEST"] = {"NAME": str(test_name)}
    elif engine in ("django.db.backends.postgresql",):
        # Off under tests: pytest-django's flushes between transactional tests wait forever
        # on a pooled connection's health check (seen with psycopg-pool 3.3).
        pool_size = env.int("DATABASE_POOL_SIZE", 0 if TESTING else 10, minimum=0, maximum=500)
        if pool_size == 1:
            # The webhook's threads keep a connection each (WEBHOOK_THREADS): with one in the
            # pool, pages and consoles would wait for it.
            raise ConfigError("DATABASE_POOL_SIZE", "must be 0 (no pool) or at least 2")
        # Connections are checked before use (a restarted server), pooled or not.
        config["CONN_HEALTH_CHECKS"] = True
        if pool_size:
            # Each process keeps up to `pool_size` connections and lends one per request or
            # thread (a new PostgreSQL connection costs milliseconds of a server process);
            # a burst waits up to `timeout` seconds for one instead of failing with "too many
            # clients".
            config["CONN_MAX_AGE"] = 0  # the pool replaces persistent connections
            config["OPTIONS"] = {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 20}}
        else:
            config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
    elif engine == "django.db.backends.mysql":
        config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
            "isolation_level": "read committed",
        }
        config.setdefault("TEST", {})["CHARSET"] = "utf8mb4"
        config["TEST"]["COLLATION"] = "utf8mb4_unicode_ci"
    else:
        raise ConfigError(
            "DATABASE_URL", "must start with sqlite://, postgres:// or mysql:// (MariaDB)"
        )
    return config


DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL")
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", 1000, minimum=10)
REDIS_SOCKET_TIMEOUT = 30
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL", "must start with redis://, rediss:// or unix://")
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's layer, sending a batch's events to many groups at once.
            "BACKEND": "ispdesk.realtime.layers.PipelinedRedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
                # channels_redis blocks waiting for a message: an idle console's read timed out
                # and its consumer crashed, closing the socket. Longer than that wait, still
                # bounded so a dead Redis connection is noticed.
                "hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}],
                "capacity": CHANNEL_CAPACITY,
                "prefix": env.str("REDIS_PREFIX", "ispdesk"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }

# Accounts --------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AXES_ENABLED = env.bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", 0, minimum=0) or None
AXES_SENSITIVE_PARAMETERS = ["password"]

# Internationalisation --------------------------------------------------------------------
LANGUAGES = [("es-ar", _("Spanish")), ("en", _("English"))]
LANGUAGE_CODE = env.choice("LANGUAGE_CODE", [code for code, _name in LANGUAGES], "es-ar")
TIME_ZONE = env.str("TIME_ZONE", "America/Argentina/Buenos_Aires")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ConfigError("TIME_ZONE", f"unknown time zone {TIME_ZONE!r}") from None
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders: no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or DEMO

# Background loops ------------------------------------------------------------------------
JOBS_POLL_SECONDS = env.int("JOBS_POLL_SECONDS", 5, minimum=1, maximum=3600)
# Longest the outbox sender sleeps between passes (queued messages wake it at once).
SENDER_POLL_SECONDS = env.int("SENDER_POLL_SECONDS", 1, minimum=1, maximum=60)
# Shortest time between the starts of two of the sender's passes, and of two hand-over
# batches (milliseconds), unless the last one was full: in a storm each pass then takes what
# gathered meanwhile instead of a message or two, which costs less CPU per message (every
# pass has fixed costs: a lock, a listing, one event per console). A message after a quiet
# moment is not held; at most this much is added to its way to the screen. 0: no spacing.
SENDER_GATHER_MS = env.int("SENDER_GATHER_MS", 100, minimum=0, maximum=2000)
INBOUND_GATHER_MS = env.int("INBOUND_GATHER_MS", 100, minimum=0, maximum=2000)
JOBS_LEASE_SECONDS = env.int("JOBS_LEASE_SECONDS", 600, minimum=30)
# Customer messages are stored by the webhook and handed to the service desk (contact,
# conversation, bot, queue) by a background loop, off the request path: "background". Tests
# hand them over in the webhook's own request ("inline") unless a test says otherwise.
INBOUND_HANDLING = env.choice(
    "INBOUND_HANDLING", ["background", "inline"], "inline" if TESTING else "background"
)
# How often the hand-over loop looks for messages stored by another process (milliseconds);
# messages stored in its own process wake it at once.
INBOUND_POLL_MS = env.int("INBOUND_POLL_MS", 200, minimum=20, maximum=5000)
# Messages handed over per transaction (their events go out when it commits), and how long
# a batch may take before it commits what it did: on SQLite webhooks wait for a batch's write
# lock, so its batches are kept short.
# 200: with a backlog (a storm's first minutes) a batch's fixed costs (the lock, the listing,
# the calendar, a bulk INSERT per table, one event per console and group) are shared by more
# messages: bench.handover, batches of 50 -> 200: 0.82 -> 0.68 ms of CPU per message, menu
# picks 1.51 -> 0.59 queries each. The time limit below still ends a batch early.
INBOUND_BATCH_SIZE = env.int("INBOUND_BATCH_SIZE", 200, minimum=1, maximum=1000)
# (Tests, which count what one batch did, get batches that never end on time unless a test
# sets a limit: the time limit has its own test.)
_BATCH_MS_DEFAULT = 60_000 if TESTING else 40 if DATABASE_URL.startswith("sqlite") else 250
INBOUND_BATCH_MS = env.int("INBOUND_BATCH_MS", _BATCH_MS_DEFAULT, minimum=1, maximum=60_000)
# `ispdesk worker` lowers its CPU priority by this much (Unix nice): when the machine is
# saturated (an outage storm), the web processes answer webhooks first and the background
# work catches up afterwards. 0 keeps the priority it was started with.
WORKER_NICE = env.int("WORKER_NICE", 10, minimum=0, maximum=19)
# `ispdesk worker` runs the outbox sender in a child process that lowers its priority by
# `SENDER_NICE` (from where the worker started; WORKER_NICE lowers the rest): when the CPU is
# short, customers' messages reach the operators' screens and bot replies are queued first,
# and the sends catch up afterwards (gateways pace them anyway). "auto": on PostgreSQL, whose
# NOTIFY wakes the sender at once when a reply is queued in another process; on MariaDB it
# would wait for its poll (SENDER_POLL_SECONDS), on SQLite a starved process holding the
# database's one write lock would stall webhooks: there it stays a thread of the worker.
WORKER_SENDER_PROCESS = env.choice("WORKER_SENDER_PROCESS", ["auto", "yes", "no"], "auto")
SENDER_NICE = env.int("SENDER_NICE", 15, minimum=0, maximum=19)

# WhatsApp --------------------------------------------------------------------------------
# Largest webhook body read (bytes): Meta documents batches of up to 3 MB, above Django's
# 2.5 MiB DATA_UPLOAD_MAX_MEMORY_SIZE, which is why the webhook view reads the body itself.
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", 3_500_000, minimum=65_536, maximum=50_000_000)
# Threads per web process that store webhook deliveries, each keeping its database connection
# from one delivery to the next (`messaging.webhook_asgi`). With the pool on they hold at most
# half of it: pages and consoles borrow the rest.
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", 4, minimum=1, maximum=32)
_POOL_OPTIONS = DATABASES["default"].get("OPTIONS", {}).get("pool")
if _POOL_OPTIONS:
    WEBHOOK_THREADS = max(1, min(WEBHOOK_THREADS, _POOL_OPTIONS["max_size"] // 2))

# Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", ["DEBUG", "INFO", "WARNING", "ERROR"], "INFO")
# An access-log line for every accepted webhook delivery too (hundreds a second in a storm).
LOG_WEBHOOK_ACCESS = env.bool("LOG_WEBHOOK_ACCESS", False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "hook_secrets": {"()": "ispdesk.lib.logfilters.RedactHookSecrets"},
        "accepted_webhooks": {"()": "ispdesk.lib.logfilters.SkipAcceptedWebhooks"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            # Access logs would otherwise print webhook URLs, secrets included.
            "filters": ["hook_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # urllib3 logs each request's URL at DEBUG, and vendors put tokens in URL paths
        # (Splynx's refresh token, WPPConnect's secret): `lib.http` logs requests redacted.
        "urllib3": {"level": "WARNING"},
        # Accepted webhook deliveries leave no access-log line (`SkipAcceptedWebhooks`).
        "uvicorn.access": {"filters": [] if LOG_WEBHOOK_ACCESS else ["accepted_webhooks"]},
    },
}
