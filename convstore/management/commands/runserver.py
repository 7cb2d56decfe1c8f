"""``runserver`` that refuses to start on incomplete settings in one line, before it serves.

Django's ``runserver`` loads the WSGI application in a thread under its autoreloader: when
that fails, the thread prints a traceback and the reloader keeps running, listening nowhere.
This command checks first (:func:`convstore.secret_key.require_secret_key`) and stops with a
``CommandError`` (one line, exit 1), as Django's own ``runserver`` does for a missing
``ALLOWED_HOSTS``. It wraps whitenoise's ``runserver`` (static files served by WhiteNoise):
the ``convstore`` app comes before ``whitenoise.runserver_nostatic`` in ``INSTALLED_APPS``,
which is how Django picks one command of a name (docs: "Overriding commands").
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)

from convstore.secret_key import require_secret_key


class Command(RunserverCommand):
    def handle(self, *args, **options):
        try:
            require_secret_key()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        super().handle(*args, **options)
