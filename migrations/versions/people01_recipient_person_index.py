"""possible duplicates by exact keys: an index on folded name, date of birth and gender

Revision ID: people01
Revises: reports01
Create Date: 2026-12-03 15:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'people01'
down_revision = "reports01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.create_index('ix_recipient_person', ['name_key', 'date_of_birth', 'gender'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.drop_index('ix_recipient_person')
