"""Another writer, right after one of the code's own statements: a race made to happen,
through Django's public ``connection.execute_wrapper`` (docs: topics/db/instrumentation)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def after_first_statement(
    matches: Callable[[str], bool], write: Callable[[], object]
) -> Iterator[list[str]]:
    """Inside the block, run ``write()`` once, right after the first statement whose SQL
    ``matches`` has run. Yields the list of statements it ran after (empty if none matched),
    for the test to check that the race did happen."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not seen and matches(sql):
            seen.append(sql)
            write()
        return result

    with connection.execute_wrapper(wrapper):
        yield seen
