"""The one place the server refuses to start without ``SECRET_KEY``.

With ``DEBUG`` off and no ``SECRET_KEY`` the settings leave the key empty: Django itself
then refuses any signing (sessions, CSRF, password reset) the moment it is asked for, and
``check --deploy`` reports it (security.W009). Management commands that sign nothing —
``makemigrations --check``, ``migrate``, ``create_api_key`` — run as usual. Serving is what
must not start, and say so in one line with a non-zero exit:

- ``runserver`` (``convstore/management/commands/runserver.py``) raises ``CommandError``
  before it starts its autoreloader: ``CommandError: SECRET_KEY must be set …``, exit 1
  (the way Django's own ``runserver`` refuses a missing ``ALLOWED_HOSTS``).
- The WSGI and ASGI entry points (gunicorn, any ASGI server) call
  :func:`refuse_to_serve_without_key` first: under gunicorn with ``preload_app`` (convstore's
  default, ``gunicorn.conf.py``) that prints ``Error: ImproperlyConfigured: SECRET_KEY must
  be set …`` and exits 1.
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


def refuse_to_serve_without_key() -> None:
    """For the WSGI/ASGI modules: :func:`require_secret_key`, its error raised again as a
    ``RuntimeError("ImproperlyConfigured: …")`` without the chained traceback.

    gunicorn prints a ``RuntimeError`` raised while it loads the application as one line
    (``Error: …``) and exits 1 (``gunicorn.app.base.BaseApplication.run``); any other error
    becomes a 40-line traceback whose last line is the message.
    """
    try:
        require_secret_key()
    except ImproperlyConfigured as error:
        raise RuntimeError(f"ImproperlyConfigured: {error}") from None
