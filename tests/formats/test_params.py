"""The one integer query-parameter rule every format uses (conversations.formats.params)."""

import pytest
from django.http import QueryDict

from conversations.formats.params import IntegerParamInvalid, integer_param, pydantic_words


@pytest.mark.parametrize(
    ("query", "expected"), [("", 20), ("limit=", 20), ("limit=1", 1), ("limit=100", 100)]
)
def test_absent_or_empty_is_the_default_and_the_bounds_are_inclusive(query, expected):
    assert integer_param(QueryDict(query), "limit", default=20, low=1, high=100) == expected


@pytest.mark.parametrize(
    ("raw", "problem", "bound", "words"),
    [
        ("x", "not_integer", None, "int_parsing"),
        ("1.5", "not_integer", None, "int_parsing"),
        ("0", "below", 1, "greater_than_equal"),
        ("101", "above", 100, "less_than_equal"),
    ],
)
def test_every_refusal_names_its_problem(raw, problem, bound, words):
    with pytest.raises(IntegerParamInvalid) as info:
        integer_param({"limit": raw}, "limit", default=20, low=1, high=100)
    assert (info.value.name, info.value.problem, info.value.bound) == ("limit", problem, bound)
    assert pydantic_words(info.value)[1] == words


def test_no_upper_bound_when_high_is_none():
    assert integer_param({"page": str(2**40)}, "page", default=1, low=1) == 2**40
