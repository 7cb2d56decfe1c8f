"""convstore settings: one module, every deployment difference an environment variable.

Variables (all optional):

- ``DATABASE_URL``: e.g. ``postgres://postgres@127.0.0.1:5432/convstore``. Unset means an
  SQLite file ``db.sqlite3`` beside ``manage.py`` (parsed by dj-database-url).
- ``DB_CONN_MAX_AGE``: seconds a PostgreSQL connection is kept open (default 600, persistent
  connections; ``0`` opens one per request, which we never want in production).
- ``SECRET_KEY``: Django's signing key. A development default is used when ``DEBUG`` is on.
- ``DEBUG``: ``1``/``true`` to enable debug pages (default off).
- ``ALLOWED_HOSTS``: comma-separated host names (default ``localhost,127.0.0.1,[::1]``).
- ``CONVSTORE_MAX_BODY_BYTES``: largest request body the API accepts (default 1 MiB); bigger
  bodies answer 413 in the calling format's error shape.
- ``DB_CONN_HEALTH_CHECKS``: ``1`` to check a reused connection with a query at the start of
  each request (default off: a dropped connection fails one request, then reconnects).
- ``CONVSTORE_API_KEY_CACHE_SECONDS``: how long a process trusts a key it looked up (default
  5; a revoked key keeps working in other processes at most that long). ``0`` disables.
- ``CONVSTORE_FAST_WRITES``: ``0`` turns off the PostgreSQL fast metadata write path.
- ``CONVSTORE_CHAT_RESPONDER``: dotted path of the callable that writes AI replies for the
  Telnyx chat endpoint (see ``conversations.formats.telnyx``).
"""

import os
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
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("CONVSTORE_REQUIRE_SECRET_KEY"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "conversations",
]

MIDDLEWARE = [
    "conversations.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The admin's middleware, skipped under the API prefixes (conversations.middleware).
    "conversations.middleware.AdminSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "conversations.middleware.AdminCsrfViewMiddleware",
    "conversations.middleware.AdminAuthenticationMiddleware",
    "conversations.middleware.AdminMessageMiddleware",
    "conversations.middleware.AdminXFrameOptionsMiddleware",
]

ROOT_URLCONF = "convstore.urls"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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
        # Off: a health-check query per request is a round trip on every request. A
        # connection that died between requests fails that one request, and Django closes it
        # when the request ends (errors_occurred), so the next request reconnects.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", False),
    )
}
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
    DATABASES["default"]["CONN_MAX_AGE"] = 0

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["conversations.parsers.StrictJSONParser"],
    "UNAUTHENTICATED_USER": None,
}

CONVSTORE_MAX_BODY_BYTES = int(os.environ.get("CONVSTORE_MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = CONVSTORE_MAX_BODY_BYTES
CONVSTORE_CHAT_RESPONDER = os.environ.get("CONVSTORE_CHAT_RESPONDER", "")
# Write path (conversations.services.api_keys, conversations.services.fastwrite).
CONVSTORE_API_KEY_CACHE_SECONDS = float(os.environ.get("CONVSTORE_API_KEY_CACHE_SECONDS", "5"))
CONVSTORE_FAST_WRITES = env_bool("CONVSTORE_FAST_WRITES", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Webhooks (conversations.webhooks.delivery): request timeout, attempts before an event is
# marked failed, and the base of the exponential backoff (base × 2^(n-1) seconds).
CONVSTORE_WEBHOOK_TIMEOUT = float(os.environ.get("CONVSTORE_WEBHOOK_TIMEOUT", "10"))
CONVSTORE_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("CONVSTORE_WEBHOOK_MAX_ATTEMPTS", "6"))
CONVSTORE_WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("CONVSTORE_WEBHOOK_BACKOFF_SECONDS", "30"))
