"""Full-text search indexes, on PostgreSQL only (SQLite's search is the fallback in selectors).

The indexed expressions are exactly what ``pins.selectors.pin_search_vector`` and
``board_search_vector`` compile to, so the planner uses the indexes for ``pin_search``.
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
