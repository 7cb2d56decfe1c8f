"""convstore's URL map: the admin and one prefix per wire format (``docs/contract.md``)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from conversations import health, metrics
from conversations.formats.agentphone.urls import agentphone_urlpatterns
from conversations.formats.docs import docs_urlpatterns
from conversations.formats.openai.urls import azure_urlpatterns, openai_urlpatterns
from conversations.formats.telnyx.urls import telnyx_urlpatterns

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    *docs_urlpatterns,  # before the formats' catch-all routes
    path("openai/v1/", include(openai_urlpatterns)),
    path("azure/openai/v1/", include(azure_urlpatterns)),
    path("azure/openai/", include(azure_urlpatterns)),
    path("telnyx/v2/", include(telnyx_urlpatterns)),
    path("agentphone/", include(agentphone_urlpatterns)),
]
