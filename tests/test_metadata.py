"""The metadata rules in conversations/domain/metadata.py, used by every format, the admin and
commands."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conversations.domain import metadata as rules
from conversations.domain.metadata import MetadataError


def error_of(fn, *args):
    with pytest.raises(MetadataError) as info:
        fn(*args)
    return info.value


def test_accepts_sixteen_pairs_at_the_length_limits():
    value = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    assert rules.validate_metadata(value) == value


def test_seventeen_pairs_are_refused_with_the_count():
    error = error_of(rules.validate_metadata, {str(i): "v" for i in range(17)})
    assert error.code == "too_many_pairs"
    assert error.params == {"count": 17, "limit": 16}


def test_lengths_count_characters_not_bytes():
    assert rules.validate_metadata({"界" * 64: "界" * 512})
    error = error_of(rules.validate_metadata, {"界" * 65: "x"})
    assert (error.code, error.params["length"]) == ("key_too_long", 65)
    error = error_of(rules.validate_metadata, {"k": "界" * 513})
    assert (error.code, error.key, error.params["length"]) == ("value_too_long", "k", 513)


def test_empty_key_is_refused():
    assert error_of(rules.validate_metadata, {"": "x"}).code == "key_too_short"


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (1, "integer"),
        (1.5, "number"),
        (True, "boolean"),
        ([], "array"),
        ({}, "object"),
        (None, "null"),
        (b"x", "bytes"),  # not JSON (a command's or the admin's Python value): its type name
    ],
)
def test_non_string_values_are_refused_with_their_json_type(value, got):
    error = error_of(rules.validate_metadata, {"k": value})
    assert (error.code, error.key, error.params["got"]) == ("invalid_value_type", "k", got)


@pytest.mark.parametrize("value", ["a\x00b", "\x00"])
def test_nul_in_a_value_or_key_is_refused(value):
    assert error_of(rules.validate_metadata, {"k": value}).code == "nul_character"
    assert error_of(rules.validate_metadata, {value: "v"}).code == "nul_character"


@pytest.mark.parametrize(
    ("raw", "stored"), [(True, "true"), (False, "false"), ("true", "true"), ("FALSE", "false")]
)
def test_ai_disabled_takes_bools_and_strings_and_stores_a_string(raw, stored):
    assert rules.validate_metadata({"ai_disabled": raw}) == {"ai_disabled": stored}


def test_ai_disabled_refuses_other_values():
    error = error_of(rules.validate_metadata, {"ai_disabled": "yes"})
    assert error.code == "invalid_ai_disabled"
    # The formats build their errors from these (OpenAI's param, FastAPI's loc, the message).
    assert (error.key, error.params["value"]) == ("ai_disabled", "yes")
    assert error.message == ("Invalid value for 'ai_disabled': expected true or false, got 'yes'.")


def test_metadata_must_be_an_object():
    error = error_of(rules.validate_metadata, "text")
    assert (error.code, error.params["got"]) == ("not_an_object", "string")


def test_merge_sets_and_removes_keys_and_counts_the_result():
    patch = rules.validate_patch({"b": None, "c": "3"})
    assert rules.merge({"a": "1", "b": "2"}, patch) == {"a": "1", "c": "3"}
    full = {str(i): "v" for i in range(16)}
    error = error_of(rules.merge, full, {"new": "v"})
    assert error.params["count"] == 17


def test_switch_helpers():
    assert rules.is_ai_disabled({"ai_disabled": "true"})
    assert not rules.is_ai_disabled({"ai_disabled": "false"})
    assert not rules.is_ai_disabled(None)
    assert rules.with_ai_disabled({"a": "1"}, True) == {"a": "1", "ai_disabled": "true"}
    assert rules.with_ai_disabled({"ai_disabled": "true"}, False) == {"ai_disabled": "false"}


def test_plain_metadata_takes_the_one_pass_check_whatever_its_script():
    """The one-pass check (the bulk import's speed) accepts non-ASCII text itself; only a lone
    surrogate, NUL or a broken limit sends a value to the pair-by-pair rules."""
    assert rules._plain_valid({"名前": "界"}) == {"名前": "界"}
    assert rules._plain_valid({"k": "\ud800"}) is None


def test_lone_surrogates_are_refused():
    assert error_of(rules.validate_metadata, {"k": "\ud800"}).code == "invalid_unicode"
    assert error_of(rules.validate_metadata, {"\udfff": "v"}).code == "invalid_unicode"


def _outcome(fn, value):
    try:
        return "ok", fn(value)
    except MetadataError as exc:
        return "error", exc.code, exc.params


# Pieces that reach the length limits (64, 512) exactly and by one more, and every bad character.
_TEXT = st.lists(
    st.sampled_from(["a", "界", "\x00", "\ud800", "k" * 64, "v" * 512, "ai_disabled"]),
    max_size=3,
).map("".join)


@settings(max_examples=400, deadline=None)
@example({"k" * 64: "界" * 512, "ai_disabled": "TRUE"})
@example({"k" * 65: "v"})
@example({"k": "v" * 513})
@example({"": "v"})
@example({"k": "a\x00"})
@example({"\ud800": "v"})
@example({str(i): "v" for i in range(17)})
@given(
    st.one_of(
        st.dictionaries(
            st.one_of(_TEXT, st.just("ai_disabled")),
            st.one_of(_TEXT, st.booleans(), st.integers(), st.none(), st.just("TRUE")),
            max_size=18,
        ),
        st.lists(st.text(max_size=2)),
        st.none(),
    )
)
def test_the_one_pass_check_agrees_with_the_pair_by_pair_rules(value):
    # validate_metadata takes a one-pass route for plainly good objects; every answer, value
    # or first error, is the one the pair-by-pair checks give.
    assert _outcome(rules.validate_metadata, value) == _outcome(
        lambda v: rules._validate(v, allow_delete=False), value
    )


def test_nul_and_surrogate_errors_say_where():
    value_error = error_of(rules.validate_metadata, {"k": "a\x00"})
    assert (value_error.message, value_error.key) == (
        "Metadata value for 'k' may not contain the NUL character.",
        "k",
    )
    key_error = error_of(rules.validate_metadata, {"a\x00": "v"})
    assert key_error.message == "Metadata keys may not contain the NUL character."
    surrogate = error_of(rules.validate_metadata, {"k": "\ud800"})
    assert surrogate.message == "Metadata may not contain lone surrogate characters."
    assert surrogate.key == "k"


def test_value_errors_name_the_key_the_type_and_the_limit():
    wrong_type = error_of(rules.validate_metadata, {"k": 1})
    assert wrong_type.message == "Metadata value for 'k' must be a string, got integer."
    too_long = error_of(rules.validate_metadata, {"k": "v" * 513})
    assert too_long.params["limit"] == 512


def test_removing_a_key_that_is_not_there_changes_nothing():
    assert rules.merge({"a": "1"}, rules.validate_patch({"b": None})) == {"a": "1"}


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("a\x00b", True),
        ("ab", False),
        ({"k\x00": "v"}, True),
        ({"k": "v\x00"}, True),
        ({"k": "v"}, False),
        (["a", ["b", "\x00"]], True),
        (("a", "b"), False),
        (("a", "\x00"), True),
        (7, False),
        (None, False),
    ],
)
def test_contains_nul_looks_into_keys_values_and_nested_items(value, found):
    """The formats' check of whole bodies (items, Telnyx names) before they reach the database."""
    assert rules.contains_nul(value) is found


def test_a_non_string_key_is_refused_with_its_type():
    """Only Python callers (commands, the admin) can send one: JSON keys are strings."""
    error = error_of(rules.validate_metadata, {1: "v"})
    assert (error.code, error.key, error.params["got"]) == ("invalid_value_type", "1", "integer")
    assert error.message == "Metadata keys must be strings."


def test_sixteen_pairs_pass_every_path_and_seventeen_are_worded():
    """16 pairs are accepted by the pair-by-pair rules too (an ``ai_disabled`` pair sends the
    object there), and by a merge that reaches 16; the 17th is refused in words."""
    with_switch = {**{str(i): "v" for i in range(15)}, "ai_disabled": True}
    assert len(rules.validate_metadata(with_switch)) == 16
    assert len(rules.merge({str(i): "v" for i in range(15)}, {"new": "v"})) == 16
    error = error_of(rules.validate_metadata, {str(i): "v" for i in range(17)})
    assert error.message == "Metadata may hold at most 16 pairs, got 17."
    not_object = error_of(rules.validate_metadata, "x")
    assert not_object.message == "Metadata must be an object, got string."


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("\ud800", True),
        ("界", False),
        ({"\udfff": "v"}, True),
        ({"k": "\ud800"}, True),
        ({"k": "v"}, False),
        (["a", ["\ud800"]], True),
        (("a", "b"), False),
        (7, False),
    ],
)
def test_has_lone_surrogate_looks_into_keys_values_and_nested_items(value, found):
    assert rules.has_lone_surrogate(value) is found


# --- the pair-by-pair path at its limits (survivors of a mutation run: docs/mutation-testing.md)
# A merge patch (validate_patch) never takes the one-pass check, so its keys and values meet
# the pair-by-pair rules directly: the limits must hold there to the character.


def test_a_patch_takes_keys_and_values_at_the_limits_and_refuses_one_more():
    at_limit = {"k" * 64: "v" * 512, "gone": None}
    assert rules.validate_patch(at_limit) == at_limit
    key = error_of(rules.validate_patch, {"k" * 65: "v", "gone": None})
    assert (
        key.message
        == "Metadata key '" + "k" * 65 + "' is too long: 65 characters, at most 64 allowed."
    )
    assert (key.code, key.key, key.params["length"], key.params["limit"]) == (
        "key_too_long",
        "k" * 65,
        65,
        64,
    )
    value = error_of(rules.validate_patch, {"k": "v" * 513, "gone": None})
    assert (
        value.message == "Metadata value for 'k' is too long: 513 characters, at most 512 allowed."
    )
    assert (value.code, value.key, value.params["limit"]) == ("value_too_long", "k", 512)


def test_an_empty_key_is_refused_with_its_wording_on_every_path():
    for check in (rules.validate_metadata, rules.validate_patch):
        error = error_of(check, {"": "x"})
        assert error.message == "Metadata keys must be at least 1 character long."
        assert (error.code, error.key) == ("key_too_short", "")
