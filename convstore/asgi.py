"""ASGI entry point (the API is synchronous; WSGI under gunicorn is the deployment we test)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.settings")

application = get_asgi_application()
