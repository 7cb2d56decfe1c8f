"""WSGI entry point: ``gunicorn convstore.wsgi``.

The URLconf (every format's views, serializers and DRF) is loaded here, when the worker
starts, rather than by the first request: on a busy machine that import takes seconds, which
would otherwise be the first client's wait.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from convstore.secret_key import refuse_to_serve_without_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.settings")

refuse_to_serve_without_key()  # no serving without a key when DEBUG is off (one line)

application = get_wsgi_application()

from conversations.http.middleware import DechunkedBody  # noqa: E402 -- needs the app registry

application = DechunkedBody(application)  # chunked bodies get their length (see the class)
get_resolver().url_patterns  # noqa: B018 -- import every view now (see module docstring)
