"""search by any part of a name: the folded words of each recipient's name

Revision ID: words01
Revises: codes01
Create Date: 2026-12-03 13:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'words01'
down_revision = "codes01"
branch_labels = None
depends_on = None

#: recipients read and written per step of the data migration
BATCH = 5000


def upgrade():
    op.create_table('recipient_word',
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('word_key', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], name=op.f('fk_recipient_word_recipient_id_recipient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('recipient_id', 'word_key', name=op.f('pk_recipient_word'))
    )
    with op.batch_alter_table('recipient_word', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_word_key', ['word_key', 'recipient_id'], unique=False)
    _fill_words()


def _fill_words():
    """The word keys of the recipients already registered, in batches by id (the same
    ``name_words`` the application keeps them with)."""
    from vaxportal.text import name_words

    bind = op.get_bind()
    recipient = sa.table('recipient', sa.column('id', sa.Integer), sa.column('full_name'))
    word = sa.table('recipient_word', sa.column('recipient_id', sa.Integer),
                    sa.column('word_key'))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(recipient.c.id, recipient.c.full_name)
            .where(recipient.c.id > after).order_by(recipient.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        values = [{"recipient_id": rid, "word_key": key}
                  for rid, name in rows for key in name_words(name or "")]
        if values:
            bind.execute(word.insert(), values)
        after = rows[-1].id


def downgrade():
    with op.batch_alter_table('recipient_word', schema=None) as batch_op:
        batch_op.drop_index('ix_recipient_word_key')

    op.drop_table('recipient_word')
