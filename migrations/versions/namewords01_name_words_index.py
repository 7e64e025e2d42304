"""the name's words in one column of the recipient, under an index that intersects them (a
GIN index on PostgreSQL, an FTS5 table on SQLite), in place of the `recipient_word` table

A name search gathered every holder of its rarest word from `recipient_word` (30,000 holders
of "bich" in a province), whatever the matches: the index now intersects the typed words.

Revision ID: namewords01
Revises: coverage01
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'namewords01'
down_revision = "coverage01"
branch_labels = None
depends_on = None

#: recipients read and written per step of the data migration (keyset on id)
BATCH = 10_000

_recipient = sa.table('recipient', sa.column('id', sa.Integer), sa.column('name_key'),
                      sa.column('name_words'))
#: PostgreSQL: every prefix of every word of a name, the GIN index's expression; written out
#: here as the app's models.WORD_PREFIXES_FUNCTION is at this revision
WORD_PREFIXES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION name_word_prefixes(words text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $body$ "
    "SELECT array_to_tsvector(coalesce(array_agg(left(w, n)), '{}'::text[])) "
    "FROM unnest(string_to_array(words, ' ')) AS w, generate_series(1, char_length(w)) AS n "
    "$body$")
_word = sa.table('recipient_word', sa.column('recipient_id', sa.Integer),
                 sa.column('word_key'))


def upgrade():
    bind = op.get_bind()
    # a constant default: PostgreSQL adds the column without rewriting the table
    op.add_column('recipient', sa.Column('name_words', sa.Text(), server_default='',
                                         nullable=False))
    _fill_name_words(bind)
    if bind.dialect.name == 'postgresql':
        # built once over the filled column, rather than kept row by row while filling;
        # its expression: every prefix of every word (models.WORD_PREFIXES_FUNCTION)
        bind.exec_driver_sql(WORD_PREFIXES_FUNCTION)
        op.create_index('ix_recipient_name_words', 'recipient',
                        [sa.text("name_word_prefixes(name_words)")],
                        postgresql_using='gin')
    else:
        install_sqlite_index(bind)
    with op.batch_alter_table('recipient_word', schema=None) as batch_op:
        batch_op.drop_index('ix_recipient_word_key')
    op.drop_table('recipient_word')


def _batches(bind, *columns):
    """The recipients' ``columns`` after their id, ``BATCH`` rows at a time, by id."""
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_recipient.c.id, *columns).where(_recipient.c.id > after)
            .order_by(_recipient.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _fill_name_words(bind):
    """``name_words`` of the recipients already registered, from their ``name_key`` by the
    application's own rule (``models.joined_words``). The column is derived from the name
    and not audited (``Recipient``'s ``ignore``): the trail has nothing to record, so the
    statements go as the trail's own past the guard of bypassing statements."""
    from vaxportal.audit import chain
    from vaxportal.recipients.models import joined_words

    postgresql = bind.dialect.name == 'postgresql'
    for rows in _batches(bind, _recipient.c.name_key):
        ids = [row.id for row in rows]
        words = [joined_words(row.name_key or '') for row in rows]
        with chain.writing():
            if postgresql:  # one statement per batch: the values as two arrays
                bind.execute(sa.text(
                    "UPDATE recipient SET name_words = v.words FROM unnest("
                    "CAST(:ids AS integer[]), CAST(:words AS text[])) AS v(id, words) "
                    "WHERE recipient.id = v.id"), {"ids": ids, "words": words})
            else:
                bind.execute(sa.text("UPDATE recipient SET name_words = :words WHERE id = :id"),
                             [{"id": i, "words": w} for i, w in zip(ids, words) if w])


#: SQLite: the FTS5 table of the names' words and its triggers as they were at this
#: revision (``namefts02`` adds the facility; its downgrade puts this one back)
FTS_DDL = [
    "DROP TRIGGER IF EXISTS recipient_name_fts_insert",
    "DROP TRIGGER IF EXISTS recipient_name_fts_delete",
    "DROP TRIGGER IF EXISTS recipient_name_fts_update",
    "DROP TABLE IF EXISTS recipient_name_fts",
    "CREATE VIRTUAL TABLE recipient_name_fts USING fts5(name_words, content='recipient', "
    "content_rowid='id', prefix='2 3', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER recipient_name_fts_insert AFTER INSERT ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (rowid, name_words) VALUES (new.id, new.name_words); END",
    "CREATE TRIGGER recipient_name_fts_delete AFTER DELETE ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (recipient_name_fts, rowid, name_words) "
    "VALUES ('delete', old.id, old.name_words); END",
    "CREATE TRIGGER recipient_name_fts_update AFTER UPDATE OF name_words ON recipient BEGIN "
    "INSERT INTO recipient_name_fts (recipient_name_fts, rowid, name_words) "
    "VALUES ('delete', old.id, old.name_words); "
    "INSERT INTO recipient_name_fts (rowid, name_words) VALUES (new.id, new.name_words); END",
    "INSERT INTO recipient_name_fts (recipient_name_fts) VALUES ('rebuild')",
]


def install_sqlite_index(bind):
    """The FTS5 table and its triggers of this revision (the last statement builds the
    index from the rows)."""
    for statement in FTS_DDL:
        bind.exec_driver_sql(statement)


def downgrade():
    bind = op.get_bind()
    op.create_table('recipient_word',
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('word_key', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], name=op.f('fk_recipient_word_recipient_id_recipient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('recipient_id', 'word_key', name=op.f('pk_recipient_word'))
    )
    for rows in _batches(bind, _recipient.c.name_words):
        values = [{'recipient_id': row.id, 'word_key': key}
                  for row in rows for key in (row.name_words or '').split()]
        if values:
            bind.execute(_word.insert(), values)
    with op.batch_alter_table('recipient_word', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_word_key', ['word_key', 'recipient_id'],
                              unique=False)
    if bind.dialect.name == 'postgresql':
        op.drop_index('ix_recipient_name_words', table_name='recipient')
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS name_word_prefixes(text)")
        op.drop_column('recipient', 'name_words')
    else:
        for name in ('insert', 'delete', 'update'):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS recipient_name_fts_{name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS recipient_name_fts")
        bind.exec_driver_sql("ALTER TABLE recipient DROP COLUMN name_words")
