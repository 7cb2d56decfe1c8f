"""Id forms shared by every format.

The store's key is a UUID. Formats render it either as ``prefix_`` + 32 lowercase hex
(OpenAI, Azure and AgentPhone: ``conv_…``, items ``msg_…``) or as the dashed UUID (Telnyx).
Every format accepts any of these forms on input (``docs/contract.md`` §One store).
"""

import re
import uuid

_PREFIXED = re.compile(r"^(?:[a-z]{1,16}_)?([0-9a-fA-F]{32})$")


def parse_id(value: str) -> uuid.UUID | None:
    """Parse ``prefix_<32 hex>``, ``<32 hex>`` or a dashed UUID; ``None`` for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _PREFIXED.match(value)
    if match:
        return uuid.UUID(hex=match.group(1))
    if len(value) == 36:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def prefixed(value: uuid.UUID, prefix: str) -> str:
    """Render a UUID as ``prefix_`` + 32 lowercase hex, e.g. ``conv_3fa85f64…``."""
    return f"{prefix}_{value.hex}"
