"""The environment of a benchmark: which database, and what the Django processes under test see."""

from __future__ import annotations

import os
import secrets

#: The database the benchmarks use unless ``BENCH_DATABASE_URL`` names another (each script
#: may have a default of its own).
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/convstore_bench"


def database_url(default: str = DEFAULT_DATABASE_URL, *, postgres_only: bool = False) -> str:
    """``BENCH_DATABASE_URL``, else ``default``; with ``postgres_only``, exit unless it names a
    PostgreSQL database."""
    url = os.environ.get("BENCH_DATABASE_URL", default)
    if postgres_only and not is_postgres(url):
        raise SystemExit("BENCH_DATABASE_URL must name a PostgreSQL database")
    return url


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(("postgres://", "postgresql://"))


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's Django processes: this one (minus pytest's markers),
    production settings — ``DEBUG`` off, ``SECRET_KEY`` as set or a random one — over plain
    HTTP on loopback (``CONVSTORE_HTTPS=0``), ``DATABASE_URL``, then ``extra``."""

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="convstore.settings",
        DEBUG="0",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        CONVSTORE_HTTPS="0",
        # WhiteNoise warns once per worker that STATIC_ROOT is missing (no collectstatic).
        PYTHONWARNINGS="ignore:No directory at:UserWarning",
    )
    env.update(extra)
    return env


def rate_limiter_env() -> dict[str, str]:
    """The rate limiter on, as in production, counting in Redis (one round trip per request;
    ``REDIS_URL``, default ``redis://127.0.0.1:6379/0``) at a limit the load never reaches
    (``CONVSTORE_RATE_LIMIT``, default ``1000000/s``; the default 100/s would answer 429)."""

    return {
        "CONVSTORE_RATE_LIMIT": os.environ.get("CONVSTORE_RATE_LIMIT", "1000000/s"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }


def use_env(env: dict[str, str]) -> None:
    """Make ``env`` this process's environment too (its Django set-up reads it), without
    pytest's markers (a script started from a test is not the test run)."""
    os.environ.update(env)
    for name in [k for k in os.environ if k.startswith("PYTEST")]:
        del os.environ[name]
