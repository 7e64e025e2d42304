"""the register's order as indexes: (name_key, id) and (facility_id, name_key, id)

The export's keyset ``(name_key, id) > (k, i)`` seeks on ``(name_key, id)``; a commune
station's register reads its first page from ``(facility_id, name_key, id)`` without a sort.
Each replaces the index it extends.

Revision ID: bench01
Revises: codes02
Create Date: 2026-12-03 15:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'bench01'
down_revision = "codes02"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_name_key_id', ['name_key', 'id'], unique=False)
        batch_op.create_index('ix_recipient_facility_name_key_id',
                              ['facility_id', 'name_key', 'id'], unique=False)
        batch_op.drop_index('ix_recipient_name_key')
        batch_op.drop_index('ix_recipient_facility_name_key')


def downgrade():
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_facility_name_key', ['facility_id', 'name_key'],
                              unique=False)
        batch_op.create_index('ix_recipient_name_key', ['name_key'], unique=False)
        batch_op.drop_index('ix_recipient_facility_name_key_id')
        batch_op.drop_index('ix_recipient_name_key_id')
