"""pending account actions: a second person approves what gives access to data (P2.1)

Revision ID: approvals01
Revises: certs01
Create Date: 2026-12-03 12:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'approvals01'
down_revision = "certs01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('ref_number', sa.String(length=64), nullable=True),
    sa.Column('ref_date', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', vaxportal.timeutil.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['decided_by_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pending_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_action_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_action_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_action_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('pending_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_action_status'))
        batch_op.drop_index(batch_op.f('ix_pending_action_facility_id'))
        batch_op.drop_index(batch_op.f('ix_pending_action_account_id'))

    op.drop_table('pending_action')
