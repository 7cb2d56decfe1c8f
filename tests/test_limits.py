"""conversations/domain/limits.py: sizes are the bytes of compact JSON as DRF renders it."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.domain.limits import json_bytes

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_json_bytes_counts_what_json_dumps_writes(value):
    try:
        expected = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: neither can size it
        try:
            json_bytes(value)
        except UnicodeEncodeError:
            return
        raise AssertionError("json_bytes sized text json.dumps cannot encode") from None
    assert json_bytes(value) == expected
