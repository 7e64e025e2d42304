"""the register's name index also holds each row's facility and merged mark, so a walk in
name order tests its scope in the index instead of reading each passed row of the table

A district's page 80 in a province of 500,000 people read the table row of every person of
the other districts it passed in name order: 22 ms on SQLite, 1.8 ms from the index.

Revision ID: nameorder02
Revises: ginlist01
Create Date: 2026-12-04 17:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'nameorder02'
down_revision = "ginlist01"
branch_labels = None
depends_on = None

#: as models.NAME_ORDER_INDEX at this revision
COLUMNS = ['name_key', 'id', 'facility_id', 'merged_into_id']


def upgrade():
    op.drop_index('ix_recipient_name_key_id', table_name='recipient')
    op.create_index('ix_recipient_name_key_id', 'recipient', COLUMNS, unique=False)


def downgrade():
    op.drop_index('ix_recipient_name_key_id', table_name='recipient')
    op.create_index('ix_recipient_name_key_id', 'recipient', ['name_key', 'id'], unique=False)
