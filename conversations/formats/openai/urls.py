"""URL patterns for the OpenAI format (``/openai/v1``) and Azure OpenAI v1 (``/azure/openai/v1``).

Azure is also served without ``/v1`` (``/azure/openai/conversations``), which is where
``AzureOpenAI(azure_endpoint=ROOT, …)`` sends requests (``docs/contract.md``, Azure).
Any other path under these prefixes answers OpenAI's 404 ``Invalid URL (…)``; a path under
``/openai`` or ``/azure`` outside them (a base URL without ``/v1``) answers the same 404 naming
the right base URL (:data:`wrong_base_urlpatterns`, mounted last by ``convstore.urls``).
"""

from django.urls import path, re_path
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from conversations.formats.openai import views
from conversations.formats.openai.errors import invalid_url, wrong_base_url


def conversation_patterns(conversation_viewset, item_viewset):
    """The OpenAI routes for one pair of viewsets (update is POST on the detail route)."""
    return [
        path("conversations", conversation_viewset.as_view({"post": "create", "get": "list"})),
        path(
            "conversations/<str:conversation_id>",
            conversation_viewset.as_view(
                {"get": "retrieve", "post": "update", "delete": "destroy"}
            ),
        ),
        path(
            "conversations/<str:conversation_id>/items",
            item_viewset.as_view({"get": "list", "post": "create"}),
        ),
        path(
            "conversations/<str:conversation_id>/items/<str:item_id>",
            item_viewset.as_view({"get": "retrieve", "delete": "destroy"}),
        ),
    ]


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def not_found(request, *args, **kwargs):
    """OpenAI's answer to a path it does not serve."""
    return invalid_url(request)


openai_urlpatterns = [
    *conversation_patterns(views.ConversationViewSet, views.ItemViewSet),
    re_path(r"^.*$", not_found),
]

azure_urlpatterns = [
    *conversation_patterns(views.AzureConversationViewSet, views.AzureItemViewSet),
    re_path(r"^.*$", not_found),
]


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def wrong_base(request, *args, base_path: str, **kwargs):
    """OpenAI's 404 for a path outside the base URL, naming ``base_path`` (e.g. ``/openai/v1``)."""
    return wrong_base_url(request, base_path)


wrong_base_urlpatterns = [
    re_path(r"^openai(?:/.*)?$", wrong_base, {"base_path": "/openai/v1"}),
    re_path(r"^azure(?:/.*)?$", wrong_base, {"base_path": "/azure/openai/v1"}),
]
