"""wrong passwords counted per typed username, address and known browser

Revision ID: lockout01
Revises: approvals01
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'lockout01'
down_revision = "approvals01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', vaxportal.timeutil.UTCDateTime(), nullable=True),
    sa.Column('notified_at', vaxportal.timeutil.UTCDateTime(), nullable=True),
    sa.Column('updated_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure')),
    sa.UniqueConstraint('key', name=op.f('uq_sign_in_failure_key'))
    )
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failure_updated_at'), ['updated_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failure_updated_at'))
    op.drop_table('sign_in_failure')
