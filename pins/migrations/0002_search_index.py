"""Full-text search indexes, on PostgreSQL only (SQLite's search is the fallback in selectors).

Replaced by stored, GIN-indexed ``search_document`` columns (pins 0006, boards 0002). The
expressions here were what the search queries of that time compiled to.
"""

from django.db import migrations

PIN_INDEX = """
CREATE INDEX IF NOT EXISTS pins_pin_search ON pins_pin USING gin ((
    setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(description, '')), 'B')
))
"""
BOARD_INDEX = """
CREATE INDEX IF NOT EXISTS boards_board_search ON boards_board USING gin (
    to_tsvector('english'::regconfig, COALESCE(name, '') || ' ' || COALESCE(description, ''))
)
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PIN_INDEX)
        schema_editor.execute(BOARD_INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS pins_pin_search")
        schema_editor.execute("DROP INDEX IF EXISTS boards_board_search")


class Migration(migrations.Migration):
    dependencies = [
        ("pins", "0001_initial"),
        ("boards", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
