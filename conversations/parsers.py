"""The JSON parser every format uses.

Python's ``json`` decodes ``"\\ud800"`` to a lone surrogate, which no database column and no
UTF-8 response can hold, and ``1e400`` to ``inf``, which jsonb cannot store. Such bodies are
refused with :class:`UnstorableJSON` before any view sees them; each format words it as its
own bad-request error, pointing at the offending field.
"""

import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .metadata import has_lone_surrogate


class UnstorableJSON(ParseError):
    """Valid JSON holding a value no store can keep; ``path`` leads to it (keys and indexes)."""

    def __init__(self, message: str, path: tuple):
        super().__init__(message)
        self.message = message
        self.path = path


def find_unstorable(value, path: tuple = ()) -> tuple[str, tuple] | None:
    """``(reason, path)`` of the first lone surrogate or non-finite number, or ``None``."""
    if isinstance(value, str):
        return ("a lone surrogate character", path) if has_lone_surrogate(value) else None
    if isinstance(value, float):
        return None if math.isfinite(value) else ("a number out of range", path)
    if isinstance(value, dict):
        for key, item in value.items():
            if has_lone_surrogate(key):
                printable = key.encode("utf-8", "replace").decode()
                return ("a lone surrogate character", (*path, printable))
            found = find_unstorable(item, (*path, key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unstorable(item, (*path, index))
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    """DRF's ``JSONParser`` that also refuses lone UTF-16 surrogates and non-finite numbers."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        found = find_unstorable(data)
        if found:
            reason, path = found
            raise UnstorableJSON(f"The body holds {reason}, which cannot be stored.", path)
        return data
