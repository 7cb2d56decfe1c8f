"""The partition's time indexes end with the id (issue 10).

Every list orders by a time column then the id (``created_at`` or ``last_message_at``, then
``id``). With the id in the key the rows come out of the index in the page's order; without
it PostgreSQL sorts each run of equal times (an incremental sort), which at a million rows
doubled the cost of walking the index for a filtered page. The new indexes are built before
the old ones are dropped, so no list is left without one in between. ``CREATE INDEX`` blocks
writes to the table while it builds (seconds per million rows).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0007_list_query_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["project", "isolation_key", "-last_message_at", "-id"],
                name="conv_part_activity_id_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                fields=["project", "isolation_key", "-created_at", "-id"],
                name="conv_part_created_id_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="conversation", name="conv_partition_activity_idx"),
        migrations.RemoveIndex(model_name="conversation", name="conv_partition_created_idx"),
    ]
