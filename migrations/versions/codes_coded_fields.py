"""coded recipient fields: priority groups an administrator adds; older free text that
matches no code kept for review (`vaxportal codes match` fills it)

Revision ID: codes01
Revises: holes01
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'codes01'
down_revision = "holes01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('priority_group',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_priority_group'))
    )
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uncoded', sa.JSON(), nullable=True))
    # The older free text is matched to codes by `vaxportal codes match` after the upgrade:
    # through the application's session, so that the audit trail records every change.


def downgrade():
    with op.batch_alter_table('recipient', schema=None) as batch_op:
        batch_op.drop_column('uncoded')
    op.drop_table('priority_group')
