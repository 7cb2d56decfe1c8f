"""A GIN index on ``conversation.metadata`` (jsonb) on PostgreSQL only.

It serves metadata containment (``metadata @> '{"k": "v"}'``) and key-presence (``?``)
lookups, used by the Telnyx list filters and the admin search. SQLite has no GIN; there the
migration does nothing.
"""

from django.db import migrations

INDEX = "conv_metadata_gin_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_conversation USING gin (metadata)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
