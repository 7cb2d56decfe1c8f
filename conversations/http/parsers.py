"""The JSON parser every format uses.

Python's ``json`` decodes ``"\\ud800"`` to a lone surrogate, which no database column and no
UTF-8 response can hold, and ``1e400`` to ``inf``, which jsonb cannot store. Such bodies are
refused with :class:`UnstorableJSON` before any view sees them; each format words it as its
own bad-request error, pointing at the offending field.

Nesting is bounded too: a body nested deeper than ``CONVSTORE_MAX_JSON_DEPTH`` (default 32;
``{}`` and ``[]`` each count one level, so ``{"metadata": {}}`` is 2 deep) is refused with
:class:`JSONTooDeep`, before any recursive code (the decoder's own recursion, the checks below,
serializers, the database adapter) can hit Python's recursion limit and answer 500.
"""

import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from conversations.domain.limits import json_depth_exceeds
from conversations.domain.metadata import has_lone_surrogate


class UnstorableJSON(ParseError):
    """Valid JSON holding a value no store can keep; ``path`` leads to it (keys and indexes)."""

    def __init__(self, message: str, path: tuple):
        super().__init__(message)
        self.message = message
        self.path = path


class JSONTooDeep(ParseError):
    """A JSON body nested deeper than ``limit`` levels (``CONVSTORE_MAX_JSON_DEPTH``)."""

    def __init__(self, limit: int):
        super().__init__(f"The JSON body is nested deeper than {limit} levels.")
        self.message = str(self.detail)
        self.limit = limit


def find_unstorable(value, path: tuple = ()) -> tuple[str, tuple] | None:
    """``(reason, path)`` of the first lone surrogate or non-finite number, or ``None``.

    Walks iteratively (depth-first, in document order), so a deep value cannot exhaust the
    Python stack.
    """
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return ("a lone surrogate character", where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return ("a number out of range", where)
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                if has_lone_surrogate(key):
                    printable = key.encode("utf-8", "replace").decode()
                    return ("a lone surrogate character", (*where, printable))
                children.append((child, (*where, key)))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(child, (*where, i)) for i, child in enumerate(item)]))
    return None


class StrictJSONParser(JSONParser):
    """DRF's ``JSONParser`` that also refuses lone UTF-16 surrogates, non-finite numbers and
    nesting deeper than ``CONVSTORE_MAX_JSON_DEPTH`` (raising :class:`UnstorableJSON` or
    :class:`JSONTooDeep`, both :class:`ParseError`, so a format that words neither still
    answers its malformed-JSON error)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.CONVSTORE_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # the decoder's own guard, far past any sane limit
            raise JSONTooDeep(limit) from None
        if json_depth_exceeds(data, limit):
            raise JSONTooDeep(limit)
        found = find_unstorable(data)
        if found:
            reason, path = found
            raise UnstorableJSON(f"The body holds {reason}, which cannot be stored.", path)
        return data
