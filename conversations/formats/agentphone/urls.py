"""URL patterns for the AgentPhone format, mounted at ``/agentphone/`` (the SDK adds ``/v1``).

Any other path under the prefix answers FastAPI's 404 ``{"detail": "Not Found"}``.
"""

from django.urls import path, re_path
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response

from . import views


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request, *args, **kwargs):
    """FastAPI's answer to a path it does not serve."""
    return Response({"detail": "Not Found"}, status=404)


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
