"""The framework's ceiling for ``update_throughput.py``: convstore's own Django, a bare view.

A WSGI application built from ``convstore.settings`` — the same installed apps, the same
middleware (API paths skip the admin's middleware exactly as convstore's do), the same
logging and metrics — whose URLconf has ONE plain Django view at the benchmark's paths
(``/openai/v1/conversations/{id}``, ``/telnyx/v2/ai/conversations/{id}``,
``/agentphone/v1/conversations/{id}``). The view parses a JSON body when there is one and
answers a constant conversation object: no database, no authentication, no DRF.

No Django application can serve these routes faster than this one under the same gunicorn
settings, so ``django/floor`` in the benchmark's output is the ceiling of the convstore/floor
ratio for a Django server, measured in the same run. Serve it with
``gunicorn benchmarks.django_bare_app:application`` (``DJANGO_SETTINGS_MODULE`` and the
production environment as for convstore; it opens no database connection).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

settings.ROOT_URLCONF = __name__


@csrf_exempt
def conversation(request, conversation_id: str) -> JsonResponse:
    """Any method: read the JSON body (if any), answer ``{"id", "object", "created_at",
    "metadata"}`` with the body's ``metadata`` (or ``{}``)."""
    body = json.loads(request.body) if request.body else {}
    return JsonResponse(
        {
            "id": conversation_id,
            "object": "conversation",
            "created_at": 0,
            "metadata": body.get("metadata") or {},
        }
    )


urlpatterns = [
    path("openai/v1/conversations/<str:conversation_id>", conversation),
    path("telnyx/v2/ai/conversations/<str:conversation_id>", conversation),
    path("agentphone/v1/conversations/<str:conversation_id>", conversation),
]

application = get_wsgi_application()
