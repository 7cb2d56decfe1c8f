"""The benchmark database: created and migrated, its projects reset, keys made, tables vacuumed.

A script starts with :func:`open_database` (the URL, the database created, the environment
set); what follows runs Django in this process (:func:`setup_django`)."""

from __future__ import annotations

from benchmarks.harness.env import (
    DEFAULT_DATABASE_URL,
    database_url,
    is_postgres,
    production_env,
    use_env,
)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it does not exist; any other URL
    (SQLite) is left alone."""
    if not is_postgres(url):
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django() -> None:
    """``django.setup()`` under this process's environment, then ``migrate`` (quietly)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def reset_project(name: str, *, endpoints: bool = False):
    """The project ``name`` (made if missing) without its conversations (their messages and
    audit rows go with them) and, with ``endpoints``, without its webhook endpoints (their
    events and attempts go too)."""
    from conversations import services
    from conversations.models import Conversation, WebhookEndpoint

    project = services.project_get_or_create(name=name)
    if endpoints:
        WebhookEndpoint.objects.filter(project=project).delete()
    Conversation.objects.filter(project=project).delete()
    return project


def new_api_key(project, name: str = "benchmark") -> str:
    """Delete ``project``'s earlier API keys and return the raw value of a new one."""
    from conversations import services
    from conversations.models import ApiKey

    ApiKey.objects.filter(project=project).delete()
    return services.api_key_create(project=project, name=name)[1]


def vacuum_analyze(*models) -> None:
    """``VACUUM ANALYZE`` the tables of ``models`` on Django's default database (PostgreSQL;
    a no-op elsewhere).

    Benchmarks update the same rows tens of thousands of times and delete earlier runs' data.
    Where autovacuum is off (as on the development machine) or has not come round yet, the
    dead row versions stay in the tables and their indexes and slow every later statement,
    more with each run; each measured run therefore starts from vacuumed, analysed tables.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def open_database(
    default: str = DEFAULT_DATABASE_URL, *, postgres_only: bool = False, **extra: str
) -> tuple[str, dict[str, str]]:
    """The benchmark's database and environment: ``(url, env)``, the URL from
    ``BENCH_DATABASE_URL`` (else ``default``; with ``postgres_only``, PostgreSQL or exit),
    the database created if missing, ``env`` the Django processes' production environment
    (:func:`benchmarks.harness.env.production_env` with ``extra``), made this process's too."""
    url = database_url(default, postgres_only=postgres_only)
    env = production_env(url, **extra)
    use_env(env)
    ensure_database(url)
    return url, env
