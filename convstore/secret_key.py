"""The one place the server refuses to start without ``SECRET_KEY``.

With ``DEBUG`` off and no ``SECRET_KEY`` the settings leave the key empty: Django itself
then refuses any signing (sessions, CSRF, password reset) the moment it is asked for, and
``check --deploy`` reports it (security.W009). Management commands that sign nothing —
``makemigrations --check``, ``migrate``, ``create_api_key`` — run as usual. Serving is what
must not start: the WSGI and ASGI entry points (gunicorn, and ``runserver``, which loads
``WSGI_APPLICATION``) call :func:`require_secret_key` first.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MISSING = (
    "SECRET_KEY must be set when DEBUG is off (e.g. SECRET_KEY=$(python -c "
    "'import secrets; print(secrets.token_urlsafe(50))')), or set DEBUG=1 for development."
)


def require_secret_key() -> None:
    """Raise :class:`ImproperlyConfigured` (:data:`MISSING`) if ``SECRET_KEY`` is empty."""
    try:
        key = settings.SECRET_KEY  # Django raises for an empty key
    except ImproperlyConfigured:
        key = ""
    if not key:
        raise ImproperlyConfigured(MISSING)
