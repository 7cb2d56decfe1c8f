"""OpenAPI descriptions of the OpenAI (``/openai/v1``) and Azure OpenAI v1 (``/azure/openai/v1``)
formats, and here their document generators (:class:`OpenAISchemaGenerator`,
:class:`AzureSchemaGenerator`), which ``manage.py spectacular --generator-class`` and the
``openapi.json`` views use.

- :mod:`.components`: the wire shapes, the error envelope and the serializer extensions that
  describe the real serializers of :mod:`conversations.formats.openai.serializers`;
- :mod:`.operations`: each format's spec and the ``extend_schema`` decorations of the real
  viewsets of :mod:`conversations.formats.openai.views` (applied when it is imported, as it
  is here).

Shapes follow ``docs/contract.md``; the documents are served at
``/openai/v1/openapi.json`` and ``/azure/openai/v1/openapi.json``.
"""

from __future__ import annotations

from conversations.formats.openai.schema.operations import AZURE, OPENAI
from conversations.formats.openai.urls import azure_urlpatterns, openai_urlpatterns
from conversations.formats.schema import FormatSchemaGenerator, format_settings

_TAGS = [
    {"name": "Conversations", "description": "Conversations and their metadata."},
    {"name": "Items", "description": "A conversation's items (messages and other items)."},
]
_COMMON = (
    "Every error is OpenAI's envelope `{\"error\": {message, type, param, code}}` with OpenAI's "
    "codes and wording. Every answer carries `x-request-id`. The `x-ms-user-isolation-key` "
    "header narrows the caller's partition."
)


class OpenAISchemaGenerator(FormatSchemaGenerator):
    """The OpenAI Conversations format's document (``/openai/v1/openapi.json``)."""

    mount = "openai/v1/"
    url_patterns = openai_urlpatterns
    settings = format_settings(
        title="convstore — OpenAI Conversations API",
        description="The OpenAI Conversations API as convstore serves it: point the `openai` SDK "
        "at `http://HOST/openai/v1`. " + _COMMON,
        spec=OPENAI,
        prefix=r"/openai/v1",
        tags=_TAGS,
    )


class AzureSchemaGenerator(FormatSchemaGenerator):
    """The Azure OpenAI v1 format's document (``/azure/openai/v1/openapi.json``)."""

    mount = "azure/openai/v1/"
    url_patterns = azure_urlpatterns
    settings = format_settings(
        title="convstore — Azure OpenAI v1 Conversations API",
        description="Azure OpenAI v1's conversation routes as convstore serves them: point "
        "`openai.AzureOpenAI` at `http://HOST/azure/openai/v1/` (also served without `/v1`). "
        "Authenticate with `api-key` or Bearer; `api-version` is ignored; answers also carry "
        "`apim-request-id`. " + _COMMON,
        spec=AZURE,
        prefix=r"/azure/openai/v1",
        tags=_TAGS,
    )
