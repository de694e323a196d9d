"""Search reads a stored tsvector column instead of re-parsing every matching pin's text.

``Pin.search_document`` is a stored generated column (PostgreSQL computes it on every insert and
update; on SQLite it stays empty). On PostgreSQL it gets a GIN index, and the expression index of
0002 (the same words, computed per query for ranking) is dropped.
"""

import django.contrib.postgres.search
from django.db import migrations, models

import pinsite.search

INDEX = (
    "CREATE INDEX IF NOT EXISTS pins_pin_search_document ON pins_pin USING gin (search_document)"
)


PIN_INDEX_0002 = """
CREATE INDEX IF NOT EXISTS pins_pin_search ON pins_pin USING gin ((
    setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(description, '')), 'B')
))
"""


def index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)
        schema_editor.execute("DROP INDEX IF EXISTS pins_pin_search")
        schema_editor.execute("ANALYZE pins_pin")


def unindex(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PIN_INDEX_0002)
        schema_editor.execute("DROP INDEX IF EXISTS pins_pin_search_document")


class Migration(migrations.Migration):
    dependencies = [
        ("pins", "0005_tiering"),
    ]

    operations = [
        migrations.AddField(
            model_name="pin",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=pinsite.search.OnPostgreSQL(
                    django.contrib.postgres.search.CombinedSearchVector(
                        django.contrib.postgres.search.SearchVector(
                            "title", config="english", weight="A"
                        ),
                        "||",
                        django.contrib.postgres.search.SearchVector(
                            "description", config="english", weight="B"
                        ),
                        django.contrib.postgres.search.SearchConfig("english"),
                    ),
                    output_field=django.contrib.postgres.search.SearchVectorField(),
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunPython(index, unindex),
    ]
