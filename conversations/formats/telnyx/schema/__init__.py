"""OpenAPI description of the Telnyx AI conversations format (``/telnyx/v2``), and here its
document generator (:class:`TelnyxSchemaGenerator`), which ``manage.py spectacular
--generator-class`` and the ``openapi.json`` view use.

- :mod:`.components`: the wire shapes, the error envelopes and the extensions that describe
  the serializers of :mod:`conversations.formats.telnyx.serializers`;
- :mod:`.operations`: the format's spec and the ``extend_schema`` decorations of the real
  viewsets of :mod:`conversations.formats.telnyx.views` (applied when it is imported, as it
  is here).

Shapes follow ``docs/contract.md`` §Sources, Telnyx; served at ``/telnyx/v2/openapi.json``.
"""

from __future__ import annotations

from conversations.formats.schema import FormatSchemaGenerator, format_settings
from conversations.formats.telnyx.schema.operations import SPEC
from conversations.formats.telnyx.urls import telnyx_urlpatterns


class TelnyxSchemaGenerator(FormatSchemaGenerator):
    """The Telnyx AI conversations format's document (``/telnyx/v2/openapi.json``)."""

    mount = "telnyx/v2/"
    url_patterns = telnyx_urlpatterns
    settings = format_settings(
        title="convstore — Telnyx AI Conversations API",
        description="Telnyx's AI conversations routes as convstore serves them: point the "
        "`telnyx` SDK at `http://HOST/telnyx/v2`. Errors are Telnyx's envelope "
        '`{"errors": [{code, title, detail, source?}]}`, except every 422, which is FastAPI\'s '
        '`{"detail": [{loc, msg, type}]}`. Every answer carries `x-request-id`; the '
        "`x-ms-user-isolation-key` header narrows the caller's partition.",
        spec=SPEC,
        prefix=r"/telnyx/v2",
        tags=[
            {"name": "Conversations", "description": "Conversations, metadata and messages."},
            {"name": "Assistants", "description": "Chat, with the AI switch enforced."},
        ],
    )
