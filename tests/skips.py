"""Skip reasons that say how to run what was skipped.

``make test`` on SQLite (the default) skips the tests that need PostgreSQL, and without
``REDIS_URL`` those that need Redis; ``make test-all`` runs every one of them (a fresh
PostgreSQL database and Redis, as CI does). pytest prints each reason (``-ra``) and
``tests/conftest.py`` a summary line.
"""

POSTGRESQL = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/convstore make test"
REDIS = "REDIS_URL=redis://127.0.0.1:6379/0 make test"


def needs_postgresql(why: str) -> str:
    """``"needs PostgreSQL (<why>): make test-all, or DATABASE_URL=postgres://… make test"``."""
    return f"needs PostgreSQL ({why}): run `make test-all`, or {POSTGRESQL}"


def needs_redis(why: str) -> str:
    """``"needs Redis (<why>): make test-all, or REDIS_URL=redis://… make test"``."""
    return f"needs Redis ({why}): run `make test-all`, or {REDIS}"
