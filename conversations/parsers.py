"""The JSON parser every format uses.

Python's ``json`` decodes ``"\\ud800"`` to a lone surrogate, which no database column and no
UTF-8 response can hold. Such bodies are refused as unparseable (each format answers its own
malformed-JSON error) before any view sees them.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .metadata import has_lone_surrogate


class StrictJSONParser(JSONParser):
    """DRF's ``JSONParser`` that also refuses strings holding lone UTF-16 surrogates."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if has_lone_surrogate(data):
            raise ParseError("JSON parse error - invalid Unicode: lone surrogate in a string.")
        return data
