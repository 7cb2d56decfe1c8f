"""Integer query parameters (``limit``, ``offset``, ``page[size]``…), parsed once for every
format; each format words the refusal in its own error shape.

The rule: absent or empty means the default; otherwise the value must be what Python's
``int()`` accepts (decimal digits with an optional sign) and lie within ``[low, high]``
(``high=None``: no upper bound).
"""

from __future__ import annotations

from collections.abc import Mapping


class IntegerParamInvalid(ValueError):
    """A query parameter that is not an integer, or is out of its range.

    ``problem`` is :attr:`NOT_INTEGER`, :attr:`BELOW` (``bound`` is the minimum) or
    :attr:`ABOVE` (``bound`` is the maximum); ``value`` is the parsed integer when there is
    one.
    """

    NOT_INTEGER = "not_integer"
    BELOW = "below"
    ABOVE = "above"

    def __init__(self, name: str, problem: str, bound: int | None = None, value=None):
        super().__init__(f"{name}: {problem} {bound if bound is not None else ''}".rstrip())
        self.name, self.problem, self.bound, self.value = name, problem, bound, value


def integer_param(
    params: Mapping, name: str, *, default: int, low: int, high: int | None = None
) -> int:
    """The integer query parameter ``name`` of ``params`` (a ``QueryDict`` or any mapping).

    Raises:
        IntegerParamInvalid: not an integer, below ``low`` or above ``high``.
    """
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise IntegerParamInvalid(name, IntegerParamInvalid.NOT_INTEGER) from None
    if value < low:
        raise IntegerParamInvalid(name, IntegerParamInvalid.BELOW, low, value)
    if high is not None and value > high:
        raise IntegerParamInvalid(name, IntegerParamInvalid.ABOVE, high, value)
    return value


def pydantic_words(exc: IntegerParamInvalid) -> tuple[str, str]:
    """``(msg, type)`` of the pydantic v2 validation error for ``exc``, as FastAPI services
    (Telnyx, AgentPhone) put it in their 422 items (pydantic.dev/latest/errors/validation_errors:
    ``int_parsing``, ``greater_than_equal``, ``less_than_equal``)."""
    if exc.problem == exc.NOT_INTEGER:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        return msg, "int_parsing"
    if exc.problem == exc.BELOW:
        return f"Input should be greater than or equal to {exc.bound}", "greater_than_equal"
    return f"Input should be less than or equal to {exc.bound}", "less_than_equal"
