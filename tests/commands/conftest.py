"""Helpers for the command tests: run a command and capture its output."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.fixture
def run():
    """``run(name, *args)`` → ``(stdout, stderr)``; CommandError propagates."""

    def run(*args, **options):
        out, err = StringIO(), StringIO()
        call_command(*args, stdout=out, stderr=err, **options)
        return out.getvalue(), err.getvalue()

    return run
