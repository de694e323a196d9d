"""Board search reads a stored tsvector column instead of re-parsing every board's name.

``Board.search_document`` is a stored generated column (PostgreSQL computes it; on SQLite it stays
empty). On PostgreSQL it gets a GIN index, and the expression index made by pins' 0002 is dropped.
"""

import django.contrib.postgres.search
import pinsite.search
from django.db import migrations, models

OLD_INDEX = """
CREATE INDEX IF NOT EXISTS boards_board_search ON boards_board USING gin (
    to_tsvector('english'::regconfig, COALESCE(name, '') || ' ' || COALESCE(description, ''))
)
"""


def index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS boards_board_search_document"
            " ON boards_board USING gin (search_document)"
        )
        schema_editor.execute("DROP INDEX IF EXISTS boards_board_search")
        schema_editor.execute("ANALYZE boards_board")


def unindex(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OLD_INDEX)
        schema_editor.execute("DROP INDEX IF EXISTS boards_board_search_document")


class Migration(migrations.Migration):

    dependencies = [
        ('boards', '0001_initial'),
        ('pins', '0002_search_index'),  # made the expression index this replaces
    ]

    operations = [
        migrations.AddField(
            model_name='board',
            name='search_document',
            field=models.GeneratedField(db_persist=True, expression=pinsite.search.OnPostgreSQL(django.contrib.postgres.search.SearchVector('name', 'description', config='english'), output_field=django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.RunPython(index, unindex),
    ]
