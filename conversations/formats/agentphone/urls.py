"""URL patterns for the AgentPhone format, mounted at ``/agentphone/`` (the SDK adds ``/v1``).

Any other path under ``/agentphone/v1`` answers FastAPI's 404 ``{"detail": "Not Found"}``; a
path outside it (``/agentphone/conversations``, or ``/agentphone/v1/v1/…`` from a base URL
ending in ``/v1``) answers the same 404 naming the right base URL (:data:`wrong_base_urlpatterns`,
mounted before this prefix by ``convstore.urls``).
"""

from django.urls import path, re_path
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

from conversations.formats.agentphone import views
from conversations.formats.agentphone.errors import wrong_base_url


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request, *args, **kwargs):
    """FastAPI's answer to a path it does not serve."""
    return Response({"detail": "Not Found"}, status=404)


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def wrong_base(request, *args, **kwargs):
    """FastAPI's 404 for a path outside ``/agentphone/v1``, naming the base URL."""
    return wrong_base_url(request)


agentphone_urlpatterns = [
    path("v1/conversations", views.ConversationViewSet.as_view({"get": "list"})),
    path(
        "v1/conversations/<str:conversation_id>",
        views.ConversationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
    ),
    path(
        "v1/conversations/<str:conversation_id>/messages",
        views.MessageViewSet.as_view({"get": "list"}),
    ),
    re_path(r"^.*$", not_found),
]

#: Mounted at the root before ``/agentphone/``: ``/agentphone``, and any path under it outside
#: ``/agentphone/v1/`` or doubling the ``/v1``.
wrong_base_urlpatterns = [re_path(r"^agentphone(?:/(?!v1/).*|/v1/v1/.*)?$", wrong_base)]
