"""Pieces every benchmark script shares."""

from __future__ import annotations


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in ``url`` if it does not exist; any other URL
    (SQLite) is left alone."""
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


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
