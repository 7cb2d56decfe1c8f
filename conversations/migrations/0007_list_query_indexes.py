"""PostgreSQL-only helpers of the list queries at a million rows (issue 9 and 10).

- ``metadata`` compressed with lz4 (when the server has it) instead of pglz: a metadata filter
  decompresses the row's metadata once per condition, lz4 about twice as fast. Applies to
  values written from now on; nothing is rewritten.
- Extended statistics ``conv_partition_stats`` on ``(project_id, isolation_key)``: the
  planner's estimate of a partition's size, which AgentPhone's ``total`` reports past 1,000
  (``selectors.conversation_count``), no longer multiplies two correlated selectivities.
- ``conv_metadata_path_idx``: a GIN index with ``jsonb_path_ops`` on ``metadata``. It holds
  one entry per key/value pair, so ``metadata @> '{"k": "v"}'`` (a Telnyx ``eq``) and
  ``@?`` (``in.(…)``) find their rows from that entry alone; through
  ``conv_metadata_gin_idx`` (``jsonb_ops``: one entry per key and one per value) a key every
  row holds is a million-entry posting list to intersect, 0.3–0.6 s for one match at a million
  rows. ``conv_metadata_gin_idx`` stays for key presence (``?``: ``is.null``, the admin).
- ``conv_metadata_trgm_idx``: a trigram GIN index (``pg_trgm``, PostgreSQL's contrib) on the
  metadata's text, serving the pre-filter the Telnyx ``like``/``ilike`` metadata filters add
  when their pattern holds three literal characters in a row. Skipped when the server has no
  ``pg_trgm`` (the filters stay correct, unindexed).

SQLite has none of these; there the migration does nothing.
"""

from django.db import migrations

TABLE = "conversations_conversation"
TRGM_INDEX = "conv_metadata_trgm_idx"
PATH_INDEX = "conv_metadata_path_idx"
STATISTICS = "conv_partition_stats"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
        has_lz4 = bool(row and row[0])
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        has_trgm = cursor.fetchone() is not None
    if has_lz4:
        schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN metadata SET COMPRESSION lz4")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {PATH_INDEX} ON {TABLE} USING gin (metadata jsonb_path_ops)"
    )
    schema_editor.execute(
        f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (ndistinct, dependencies, mcv) "
        f"ON project_id, isolation_key FROM {TABLE}"
    )
    if has_trgm:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON {TABLE} "
            "USING gin ((metadata::text) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {PATH_INDEX}")
    schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN metadata SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0006_message_size_bytes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
