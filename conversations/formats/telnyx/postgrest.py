"""Parse the PostgREST-style expressions of Telnyx's list filters into plain conditions.

The ``telnyx`` SDK sends each filter as a raw PostgREST expression string: the operator is
part of the value (``created_at=gte.2025-01-01``, ``metadata->assistant_id=eq.a-1``,
``or=(created_at.gte.2025-04-01,last_message_at.gte.2025-04-01)``, ``order=created_at.desc``)
(``docs/contract.md`` §Sources, Telnyx list). This module only reads the syntax; which columns
and operators are allowed, and what they mean, is :mod:`.filters`' business.

Every syntax error raises :class:`FilterSyntaxError` (a Django ``ValidationError``), which the
filter set reports as a 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
_CONDITION = re.compile(
    r"^(?P<column>.+?)\.(?P<expr>(?:not\.)?(?:" + "|".join(OPERATORS) + r")\..*)$", re.DOTALL
)
MAX_DEPTH = 8
MAX_ITEMS = 100
ORDER_DIRECTIONS = ("asc", "desc")
ORDER_NULLS = ("nullsfirst", "nullslast")


class FilterSyntaxError(ValidationError):
    """A filter expression that cannot be read; ``code`` is the FastAPI-style error type."""

    def __init__(self, message: str, code: str = "value_error"):
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Condition:
    """``column`` ``op`` ``value`` (``values`` for ``in``), negated when ``negate``."""

    column: str
    op: str
    value: str = ""
    values: tuple[str, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class Group:
    """``and(...)`` / ``or(...)`` of conditions and nested groups."""

    connector: str
    items: tuple[Condition | Group, ...]


def parse_expression(column: str, expression: str) -> Condition:
    """Parse ``[not.]op.value`` for ``column``, e.g. ``("name", "like.Voice*")``.

    ``in`` takes a parenthesised list: ``in.(a,b,"c,d")``.
    """
    negate = False
    if expression.startswith("not."):
        negate, expression = True, expression[4:]
    op, dot, value = expression.partition(".")
    if op not in OPERATORS or not dot:
        raise FilterSyntaxError(
            f"Invalid filter {expression!r}: expected '[not.]<operator>.<value>' with an "
            f"operator among {', '.join(OPERATORS)}.",
            code="filter_operator",
        )
    if op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise FilterSyntaxError(
                f"Invalid 'in' filter {value!r}: expected a list in parentheses, e.g. in.(a,b)."
            )
        items = tuple(_unquote(item) for item in split_top_level(value[1:-1]))
        if len(items) > MAX_ITEMS:
            raise FilterSyntaxError(f"Too many 'in' values: at most {MAX_ITEMS}.")
        return Condition(column, op, values=items, negate=negate)
    return Condition(column, op, _unquote(value), negate=negate)


def parse_logic(value: str, connector: str = "or", depth: int = 0) -> Group:
    """Parse the value of an ``or=`` (or ``and=``) parameter: ``(cond,cond,and(cond,cond))``.

    Groups nest at most :data:`MAX_DEPTH` deep and hold at most :data:`MAX_ITEMS` items.
    """
    if depth >= MAX_DEPTH:
        raise FilterSyntaxError(f"Logic groups nest at most {MAX_DEPTH} deep.")
    value = value.strip()
    if not (value.startswith("(") and value.endswith(")")) or len(value) < 3:
        raise FilterSyntaxError(
            f"Invalid logic filter {value!r}: expected conditions in parentheses, e.g. "
            "(created_at.gte.2025-04-01,name.eq.x)."
        )
    items: list[Condition | Group] = []
    parts = split_top_level(value[1:-1])
    if len(parts) > MAX_ITEMS:
        raise FilterSyntaxError(f"Too many conditions in one group: at most {MAX_ITEMS}.")
    for part in parts:
        nested = re.match(r"^(not\.)?(and|or)(\(.*\))$", part, re.DOTALL)
        if nested:
            if nested.group(1):
                raise FilterSyntaxError("Negated groups (not.and/not.or) are not supported.")
            items.append(parse_logic(nested.group(3), nested.group(2), depth + 1))
            continue
        match = _CONDITION.match(part)
        if not match:
            raise FilterSyntaxError(
                f"Invalid condition {part!r}: expected '<column>.[not.]<operator>.<value>'.",
                code="filter_operator",
            )
        items.append(parse_expression(match.group("column"), match.group("expr")))
    return Group(connector, tuple(items))


def parse_order(value: str) -> list[tuple[str, bool]]:
    """Parse ``order=col.asc,col2.desc.nullslast`` into ``[(column, descending), …]``.

    A bare column sorts ascending, as in PostgREST. The nulls modifier is accepted and
    ignored (the orderable columns are never null).
    """
    terms = []
    for term in split_top_level(value):
        parts = term.split(".")
        column, modifiers = parts[0], parts[1:]
        descending = False
        if modifiers and modifiers[0] in ORDER_DIRECTIONS:
            descending = modifiers.pop(0) == "desc"
        if modifiers and modifiers[0] in ORDER_NULLS:
            modifiers.pop(0)
        if modifiers or not column:
            raise FilterSyntaxError(
                f"Invalid order {term!r}: expected '<column>[.asc|.desc][.nullsfirst|.nullslast]'."
            )
        terms.append((column, descending))
    if not terms:
        raise FilterSyntaxError("Invalid order: no column given.")
    return terms


def split_top_level(text: str) -> list[str]:
    """Split on commas that are outside parentheses and double quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FilterSyntaxError(f"Unbalanced parentheses in {text!r}.")
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth or quoted:
        raise FilterSyntaxError(f"Unbalanced parentheses or quotes in {text!r}.")
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _unquote(value: str) -> str:
    # PostgREST lets values holding reserved characters be double-quoted: "a,b".
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value
