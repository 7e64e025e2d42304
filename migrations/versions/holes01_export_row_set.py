"""export_job: the row set an export's code named (highest recipient id, fingerprint)

Revision ID: holes01
Revises: lockout01
Create Date: 2026-12-03 12:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'holes01'
down_revision = "lockout01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_recipient_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rows_fingerprint', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_column('rows_fingerprint')
        batch_op.drop_column('max_recipient_id')
