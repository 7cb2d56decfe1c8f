"""convstore's URL map: the admin and one prefix per wire format (``docs/contract.md``).

Trailing slashes (``APPEND_SLASH``): a page typed without its final slash (``/admin``,
``/docs``, ``/docs/openai``, any admin page) is redirected (301) to the slash URL by
``CommonMiddleware``, which redirects only a path that resolves to no view. API paths are
never redirected, whatever the method: each format's routes end in a catch-all, and the
``wrong_base_urlpatterns`` below take every other path under ``/openai``, ``/azure``,
``/telnyx`` and ``/agentphone``, so each one resolves and answers that format's JSON (a 404
naming the base URL when the path is outside it). A redirected ``POST`` would lose its body.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from conversations.formats.agentphone import urls as agentphone_urls
from conversations.formats.docs import docs_urlpatterns
from conversations.formats.openai import urls as openai_urls
from conversations.formats.telnyx import urls as telnyx_urls
from conversations.ops import health, metrics

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    *docs_urlpatterns,  # before the formats' catch-all routes
    path("openai/v1/", include(openai_urls.openai_urlpatterns)),
    path("azure/openai/v1/", include(openai_urls.azure_urlpatterns)),
    path("azure/openai/", include(openai_urls.azure_urlpatterns)),
    path("telnyx/v2/", include(telnyx_urls.telnyx_urlpatterns)),
    # Anything else under a format's prefix (a base URL without /v1, …): a JSON 404 in that
    # format's shape that names the right base URL, never Django's HTML page.
    *agentphone_urls.wrong_base_urlpatterns,
    path("agentphone/", include(agentphone_urls.agentphone_urlpatterns)),
    *openai_urls.wrong_base_urlpatterns,
    *telnyx_urls.wrong_base_urlpatterns,
]
