"""URL patterns for the Telnyx AI conversations format (SDK base URL ``http://HOST/telnyx/v2``).

Any other path under the prefix answers Telnyx's 404 envelope (code ``10005``); a path under
``/telnyx`` outside ``/telnyx/v2`` answers the same envelope naming the right base URL
(:data:`wrong_base_urlpatterns`, mounted last by ``convstore.urls``).
"""

from django.urls import path, re_path
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from conversations.formats.telnyx import views
from conversations.formats.telnyx.errors import url_not_found, wrong_base_url


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request, *args, **kwargs):
    """Telnyx's answer to a path it does not serve."""
    return url_not_found()


telnyx_urlpatterns = [
    path(
        "ai/conversations",
        views.ConversationViewSet.as_view({"get": "list", "post": "create"}),
    ),
    path(
        "ai/conversations/<str:conversation_id>",
        views.ConversationViewSet.as_view(
            {"get": "retrieve", "put": "update", "delete": "destroy"}
        ),
    ),
    path(
        "ai/conversations/<str:conversation_id>/message",
        views.ConversationViewSet.as_view({"post": "add_message"}),
    ),
    path(
        "ai/conversations/<str:conversation_id>/messages",
        views.ConversationViewSet.as_view({"get": "messages"}),
    ),
    path(
        "ai/assistants/<str:assistant_id>/chat",
        views.AssistantViewSet.as_view({"post": "chat"}),
    ),
    re_path(r"^.*$", not_found),
]


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def wrong_base(request, *args, **kwargs):
    """Telnyx's 404 for a path outside ``/telnyx/v2``, naming that base URL."""
    return wrong_base_url(request, "/telnyx/v2")


wrong_base_urlpatterns = [re_path(r"^telnyx(?:/.*)?$", wrong_base)]
