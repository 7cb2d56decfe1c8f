"""convstore settings: one module, every deployment difference an environment variable.

Variables (all optional):

- ``DATABASE_URL``: e.g. ``postgres://postgres@127.0.0.1:5432/convstore``. Unset means an
  SQLite file ``db.sqlite3`` beside ``manage.py`` (parsed by dj-database-url).
- ``DB_CONN_MAX_AGE``: seconds a PostgreSQL connection is kept open (default 600, persistent
  connections; ``0`` opens one per request, which we never want in production).
- ``SECRET_KEY``: Django's signing key. Required to serve when ``DEBUG`` is off: without it
  ``runserver`` and the WSGI/ASGI app (gunicorn) refuse to start with one line and exit 1
  (:mod:`convstore.secret_key`) and ``check --deploy`` fails; commands that sign nothing
  (``migrate``, ``makemigrations``, the project's own) run. A development key is used only
  when ``DEBUG`` is on.
- ``DEBUG``: ``1``/``true`` to enable debug pages (default off).
- ``CONVSTORE_HTTPS``: with ``DEBUG`` off, HTTPS settings are on unless this is ``0``: redirect
  to HTTPS (except the probes ``/healthz``, ``/readyz`` and ``/metrics``), HSTS
  (``CONVSTORE_HSTS_SECONDS``, default one year, subdomains, preload), secure session and CSRF
  cookies, and ``X-Forwarded-Proto: https`` from a TLS-terminating proxy trusted as HTTPS.
  ``CONVSTORE_HTTPS=0`` is for a plain-HTTP deployment (and the tests).
- ``REDIS_URL``: e.g. ``redis://127.0.0.1:6379/0``; rate-limit counters live there (shared by
  every process). Unset: counters in each process's memory.
- ``CONVSTORE_RATE_LIMIT``: requests per API key (default ``100/s``; ``off`` disables).
- ``CONVSTORE_AUTH_FAILURE_LIMIT``: failed API authentications per client IP (default ``20/m``).
- ``CONVSTORE_PROXY_COUNT``: trusted reverse proxies in front (default 0); the client IP is then
  read from ``X-Forwarded-For`` (rate limits and admin lockout).
- ``CONVSTORE_ADMIN_LOGIN_FAILURE_LIMIT`` (default 5) and ``CONVSTORE_ADMIN_LOCKOUT_MINUTES``
  (default 15): django-axes locks a client IP out of the admin login after that many failures.
- ``ALLOWED_HOSTS``: comma-separated host names (default ``localhost,127.0.0.1,[::1]``).
- ``CONVSTORE_MAX_BODY_BYTES``: largest request body the API accepts (default 1 MiB); bigger
  bodies answer 413 in the calling format's error shape.
- ``CONVSTORE_MAX_JSON_DEPTH``, ``CONVSTORE_MAX_MESSAGE_BYTES``,
  ``CONVSTORE_MAX_RESPONSE_BYTES``, ``CONVSTORE_STATEMENT_TIMEOUT_MS``,
  ``CONVSTORE_DB_RETRY_AFTER``: request limits (README "Security and limits").
- ``DB_POOLER``: ``pgbouncer`` when PgBouncer in transaction mode stands in front of
  PostgreSQL: the statement timeout is set per transaction, server-side cursors and (by
  default) prepared statements are off (``docs/database.md``).
- ``DATABASE_REPLICA_URL``: a PostgreSQL streaming replica; lists, searches and exports read
  from it once it has caught up (``CONVSTORE_REPLICA_MAX_WAIT_MS``, default 100), see
  ``docs/database.md``.
- ``DB_PREPARED_STATEMENTS``: ``0`` stops PostgreSQL preparing convstore's hot statements
  (default on, off under ``DB_POOLER``; ``1`` there for PgBouncer 1.21+ with
  ``max_prepared_statements``).
- ``DB_CONN_HEALTH_CHECKS``: ``1`` to check a reused connection with a ``SELECT 1`` at the
  start of each request (default off: a connection the server dropped is found without a
  round trip and replaced, ``conversations.database.guards.close_if_dropped``).
- ``CONVSTORE_API_KEY_CACHE_SECONDS``: how long a process trusts a key it looked up (default
  5; a revoked key keeps working in other processes at most that long). ``0`` disables.
- ``CONVSTORE_FAST_WRITES``: ``0`` turns off the PostgreSQL fast metadata write path.
- ``CONVSTORE_CHAT_RESPONDER``: dotted path of the callable that writes AI replies for the
  Telnyx chat endpoint (see ``conversations.formats.telnyx``).
- ``LOG_FORMAT`` (``text``/``json``), ``LOG_REQUESTS`` (default on), ``LOG_LEVEL``: logs.
- ``REDIS_URL``: checked by ``/readyz`` when set.
- ``CONVSTORE_METRICS_TOKEN``, ``CONVSTORE_METRICS_ALLOWED_IPS``: who may read ``/metrics``.
- ``CONVSTORE_WEBHOOK_*``: webhook delivery (timeout of a whole attempt, attempts, backoff,
  ``ALLOW_PRIVATE`` for development receivers on private addresses, ``CONCURRENCY``,
  ``MAX_PAYLOAD_BYTES``); see the README's "Webhooks security".
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (``1``, ``true``, ``yes``, ``on`` are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list of stripped items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# Empty with DEBUG off: commands run, the server refuses to start (convstore/secret_key.py).
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

# HTTPS in production (DEBUG off) unless CONVSTORE_HTTPS=0 says the deployment is plain HTTP.
HTTPS = not DEBUG and env_bool("CONVSTORE_HTTPS", True)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    # The probes answer over plain HTTP too: a load balancer's health check and a Prometheus
    # scrape often use HTTP inside the network, and a 301 would never reach the database
    # check (Django matches these against the path without its leading slash).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("CONVSTORE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "convstore",  # its runserver wraps whitenoise's (convstore/management/commands/runserver.py)
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "conversations",
]

MIDDLEWARE = [
    "conversations.http.middleware.RequestIdMiddleware",
    "conversations.http.middleware.ChunkedBodyMiddleware",
    "conversations.http.middleware.NulQueryMiddleware",
    "conversations.ops.observability.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The admin's middleware, skipped under the API prefixes (conversations.http.middleware).
    "conversations.http.middleware.AdminSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "conversations.http.middleware.AdminAuthenticationMiddleware",
    "conversations.http.middleware.AdminMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Admin login lockout (django-axes): after CONVSTORE_ADMIN_LOGIN_FAILURE_LIMIT failed logins
# from one client IP, that IP cannot log in (the right password included) for
# CONVSTORE_ADMIN_LOCKOUT_MINUTES; the page answers 429 with a lockout message. A successful
# login resets the count. `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("CONVSTORE_ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(
    minutes=float(os.environ.get("CONVSTORE_ADMIN_LOCKOUT_MINUTES", "15"))
)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "conversations.http.ratelimit.client_ip"

ROOT_URLCONF = "convstore.urls"
# `/admin`, `/docs` and any admin or docs page typed without its trailing slash redirect (301)
# to the slash URL (CommonMiddleware). API paths never redirect (a redirected POST loses its
# body): every path under a format's prefix resolves to a view, at worst that format's JSON 404
# (convstore.urls), and CommonMiddleware only redirects a path that resolves to nothing.
APPEND_SLASH = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "convstore" / "templates"],  # the admin's brand (base_site.html)
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

WSGI_APPLICATION = "convstore.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600")),
        # Off: a health-check query per request is a round trip on every request. A connection the
        # server dropped between requests is found without one (a readable idle socket,
        # conversations.database.guards.close_if_dropped) and replaced before the request's first
        # statement.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", False),
    )
}
# What stands between us and PostgreSQL: "" (nothing, or a session-pooling pooler) or
# "pgbouncer" (PgBouncer in transaction mode: each transaction may run on another server
# connection, so nothing may rely on session state between transactions).
DB_POOLER = os.environ.get("DB_POOLER", "").strip().lower()
if DB_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"DB_POOLER={DB_POOLER!r}: expected empty or 'pgbouncer'")
if DB_POOLER:
    # A server-side cursor declared outside a transaction is WITH HOLD and lives on one
    # server connection; the next FETCH may go to another. Django's advice for transaction
    # pooling (docs: "Transaction pooling and server-side cursors").
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    # Behind PgBouncer before 1.21 (or without max_prepared_statements) a statement prepared
    # on one server connection is missing on the next: off by default under DB_POOLER.
    "DB_PREPARED_STATEMENTS", not DB_POOLER
):
    # conversations.selectors.rows prepares its hot statements (prepare=True); psycopg ignores that
    # while the connection's prepare_threshold is None, Django's default. Django's own
    # cursors bind on the client side and never prepare; the threshold is out of reach so
    # psycopg prepares nothing on its own either: only what asks for it.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
# A PostgreSQL streaming replica for lists, searches and exports (conversations.database.replica):
# same connection settings as the primary; migrations and writes never go there.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **dj_database_url.parse(
            DATABASE_REPLICA_URL,
            conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
            conn_health_checks=DATABASES["default"]["CONN_HEALTH_CHECKS"],
        ),
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"].get(
            "DISABLE_SERVER_SIDE_CURSORS", False
        ),
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["conversations.database.replica.ReplicaRouter"]
CONVSTORE_REPLICA_MAX_WAIT_MS = int(os.environ.get("CONVSTORE_REPLICA_MAX_WAIT_MS", "100"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so a read-modify-write
    # (a metadata merge) is serialised instead of failing or losing a key; the timeout lets
    # concurrent writers wait for the lock. WAL lets readers run beside the writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not ":memory:", so live-server and concurrency tests get one real
    # connection per thread, as in production.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME", str(BASE_DIR / "test-db.sqlite3"))
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The admin shows every time as "2026-11-25 15:07:29 UTC" (convstore/formats/en/formats.py).
FORMAT_MODULE_PATH = ["convstore.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
RUNNING_TESTS = bool(os.environ.get("PYTEST_VERSION"))
if DEBUG or RUNNING_TESTS:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    # Serve static files straight from the apps (no collectstatic needed).
    WHITENOISE_AUTOREFRESH = True
    WHITENOISE_USE_FINDERS = True
if RUNNING_TESTS:
    # Live-server threads must not keep connections open past the test database's life.
    for database in DATABASES.values():
        database["CONN_MAX_AGE"] = 0

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["conversations.http.parsers.StrictJSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# OpenAPI documents, one per format (conversations/formats/*/schema), and their docs pages
# under /docs/, served from drf-spectacular-sidecar's static files (no CDN).
SPECTACULAR_SETTINGS = {
    "OAS_VERSION": "3.1.0",
    # The deploy check would build one document from every format's routes at once (clashing
    # names by design); each format's own document is validated by `make openapi` instead.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "validatorUrl": None,
        "displayOperationId": True,
        "tryItOutEnabled": False,
    },
}

CONVSTORE_MAX_BODY_BYTES = int(os.environ.get("CONVSTORE_MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = CONVSTORE_MAX_BODY_BYTES
CONVSTORE_CHAT_RESPONDER = os.environ.get("CONVSTORE_CHAT_RESPONDER", "")
# Write path (conversations.services.api_keys, conversations.services.fastwrite).
CONVSTORE_API_KEY_CACHE_SECONDS = float(os.environ.get("CONVSTORE_API_KEY_CACHE_SECONDS", "5"))
CONVSTORE_FAST_WRITES = env_bool("CONVSTORE_FAST_WRITES", True)

# Limits on one request's work (README "Security and limits"). JSON bodies nest at most this
# many levels; a message's stored size is at most CONVSTORE_MAX_MESSAGE_BYTES (UTF-8 JSON
# bytes); a response's items add up to at most CONVSTORE_MAX_RESPONSE_BYTES (pages stop
# early and say there is more); an API request's SQL statements run at most
# CONVSTORE_STATEMENT_TIMEOUT_MS milliseconds on PostgreSQL (0 = no limit); a refused or
# dropped database answers 503 with Retry-After CONVSTORE_DB_RETRY_AFTER seconds.
CONVSTORE_MAX_JSON_DEPTH = int(os.environ.get("CONVSTORE_MAX_JSON_DEPTH", "32"))
CONVSTORE_MAX_MESSAGE_BYTES = int(os.environ.get("CONVSTORE_MAX_MESSAGE_BYTES", str(256 * 1024)))
CONVSTORE_MAX_RESPONSE_BYTES = int(
    os.environ.get("CONVSTORE_MAX_RESPONSE_BYTES", str(4 * 1024 * 1024))
)
CONVSTORE_STATEMENT_TIMEOUT_MS = int(os.environ.get("CONVSTORE_STATEMENT_TIMEOUT_MS", "5000"))
CONVSTORE_DB_RETRY_AFTER = int(os.environ.get("CONVSTORE_DB_RETRY_AFTER", "1"))
# Rate limits (conversations.http.ratelimit): per API key, and failed authentications per client IP.
REDIS_URL = os.environ.get("REDIS_URL", "")
CONVSTORE_RATE_LIMIT = os.environ.get("CONVSTORE_RATE_LIMIT", "100/s")
CONVSTORE_AUTH_FAILURE_LIMIT = os.environ.get("CONVSTORE_AUTH_FAILURE_LIMIT", "20/m")
# Rate-limit keys' namespace in Redis (empty: "convstore:<database name>"); the seconds one
# Redis call may take; the seconds requests go unlimited after Redis failed (circuit breaker).
CONVSTORE_REDIS_PREFIX = os.environ.get("CONVSTORE_REDIS_PREFIX", "")
CONVSTORE_REDIS_TIMEOUT = float(os.environ.get("CONVSTORE_REDIS_TIMEOUT", "0.25"))
CONVSTORE_REDIS_COOLDOWN = float(os.environ.get("CONVSTORE_REDIS_COOLDOWN", "10"))
CONVSTORE_PROXY_COUNT = int(os.environ.get("CONVSTORE_PROXY_COUNT", "0"))

# Logs (conversations.ops.observability): one line per request on the "convstore.request"
# logger, JSON with LOG_FORMAT=json, key=value text otherwise; LOG_REQUESTS=0 turns it off.
# That line is the only one a request writes, under runserver too: Django's own per-request
# lines (runserver's access line on "django.server", "Not Found: /x" warnings on
# "django.request") are kept for errors (5xx) only, and Django's loggers write once, through
# the same handler (not also through Django's DEBUG console handler).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "()": "conversations.ops.observability."
            + ("JsonLineFormatter" if LOG_FORMAT == "json" else "KeyValueFormatter")
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "convstore.request": {
            "handlers": ["console"],
            "level": "INFO" if env_bool("LOG_REQUESTS", True) else "WARNING",
            "propagate": False,
        },
    },
}

# Health and metrics (conversations.ops.health, conversations.ops.metrics). /readyz pings Redis only
# when REDIS_URL (above, with the rate limits) is set. /metrics answers a Bearer
# CONVSTORE_METRICS_TOKEN or a client address in CONVSTORE_METRICS_ALLOWED_IPS (addresses or
# CIDR networks); with neither, it is closed.
CONVSTORE_METRICS_TOKEN = os.environ.get("CONVSTORE_METRICS_TOKEN", "")
CONVSTORE_METRICS_ALLOWED_IPS = env_list("CONVSTORE_METRICS_ALLOWED_IPS", "")

# Webhooks (conversations.webhooks.delivery): request timeout, attempts before an event is
# marked failed, and the base of the exponential backoff (base × 2^(n-1) seconds).
CONVSTORE_WEBHOOK_TIMEOUT = float(os.environ.get("CONVSTORE_WEBHOOK_TIMEOUT", "10"))
CONVSTORE_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("CONVSTORE_WEBHOOK_MAX_ATTEMPTS", "6"))
CONVSTORE_WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("CONVSTORE_WEBHOOK_BACKOFF_SECONDS", "30"))
# Webhook safety and speed (README "Webhooks security"): the address rule (off only for
# development and tests, where receivers listen on 127.0.0.1), attempts a worker runs at once,
# and the byte budget of one event's payload (history trimmed first, then long contents).
CONVSTORE_WEBHOOK_ALLOW_PRIVATE = env_bool("CONVSTORE_WEBHOOK_ALLOW_PRIVATE")
CONVSTORE_WEBHOOK_CONCURRENCY = int(os.environ.get("CONVSTORE_WEBHOOK_CONCURRENCY", "8"))
CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES = int(
    os.environ.get("CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES", str(256 * 1024))
)

# Idempotent creates (conversations.http.idempotency): how long a key's first answer is kept, and
# how long a running first request holds its key before another request may take it over.
CONVSTORE_IDEMPOTENCY_TTL_SECONDS = int(
    os.environ.get("CONVSTORE_IDEMPOTENCY_TTL_SECONDS", "86400")
)
CONVSTORE_IDEMPOTENCY_LEASE_SECONDS = int(
    os.environ.get("CONVSTORE_IDEMPOTENCY_LEASE_SECONDS", "60")
)
