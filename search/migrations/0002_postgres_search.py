"""PostgreSQL only: unaccent and pg_trgm, the tsvector column with its GIN index, a trigram index.

On SQLite this migration does nothing: the search falls back to LIKE on the normalised text."""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # unaccent() is only STABLE (its dictionary could change), so a generated column or an index cannot
    # call it; this wrapper names the dictionary explicitly and is declared IMMUTABLE, the usual way.
    """CREATE OR REPLACE FUNCTION skalin_unaccent(text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT unaccent('unaccent'::regdictionary, $1) $$""",
    """ALTER TABLE search_searchentry ADD COLUMN vector tsvector
       GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, skalin_unaccent(search_text))) STORED""",
    "CREATE INDEX search_entry_vector_gin ON search_searchentry USING gin (vector)",
    "CREATE INDEX search_entry_text_trgm ON search_searchentry USING gin (search_text gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS search_entry_text_trgm",
    "DROP INDEX IF EXISTS search_entry_vector_gin",
    "ALTER TABLE search_searchentry DROP COLUMN IF EXISTS vector",
    "DROP FUNCTION IF EXISTS skalin_unaccent(text)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
