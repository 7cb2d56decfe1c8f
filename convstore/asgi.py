"""ASGI entry point (the API is synchronous; WSGI under gunicorn is the deployment we test)."""

import os

from django.core.asgi import get_asgi_application

from convstore.secret_key import refuse_to_serve_without_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.settings")

refuse_to_serve_without_key()  # no serving without a key when DEBUG is off (one line)

application = get_asgi_application()
