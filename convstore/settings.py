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
- ``CONVSTORE_CHAT_RESPONDER``: dotted path of the callable that writes AI replies for the
  Telnyx chat endpoint (see ``conversations.formats.telnyx``).
- ``CONVSTORE_WEBHOOK_*``: webhook delivery (timeout of a whole attempt, attempts, backoff,
  ``ALLOW_PRIVATE`` for development receivers on private addresses, ``CONCURRENCY``,
  ``MAX_PAYLOAD_BYTES``); see the README's "Webhooks security".
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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        conn_health_checks=True,
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
# Webhook safety and speed (README "Webhooks security"): the address rule (off only for
# development and tests, where receivers listen on 127.0.0.1), attempts a worker runs at once,
# and the byte budget of one event's payload (history trimmed first, then long contents).
CONVSTORE_WEBHOOK_ALLOW_PRIVATE = env_bool("CONVSTORE_WEBHOOK_ALLOW_PRIVATE")
CONVSTORE_WEBHOOK_CONCURRENCY = int(os.environ.get("CONVSTORE_WEBHOOK_CONCURRENCY", "8"))
CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES = int(
    os.environ.get("CONVSTORE_WEBHOOK_MAX_PAYLOAD_BYTES", str(256 * 1024))
)
