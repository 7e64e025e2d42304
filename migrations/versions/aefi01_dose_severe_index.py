"""severe adverse events to follow up: a partial index of the doses with a severe AEFI

Revision ID: aefi01
Revises: daily01
Create Date: 2026-12-03 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aefi01'
down_revision = "daily01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.create_index('ix_dose_severe', ['facility_id', 'given_on'], unique=False,
                              sqlite_where=sa.text("aefi = 'severe'"),
                              postgresql_where=sa.text("aefi = 'severe'"))


def downgrade():
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_index('ix_dose_severe')
