"""merges of duplicate pairs, kept so that a supervisor can undo them

Revision ID: dupes01
Revises: phones01
Create Date: 2026-12-03 18:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'dupes01'
down_revision = "phones01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recipient_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('kept_id', sa.Integer(), nullable=False),
    sa.Column('gone_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('kept_before', sa.JSON(), nullable=False),
    sa.Column('gone_before', sa.JSON(), nullable=False),
    sa.Column('moved_dose_ids', sa.JSON(), nullable=False),
    sa.Column('kept_version', sa.Integer(), nullable=False),
    sa.Column('gone_version', sa.Integer(), nullable=False),
    sa.Column('merged_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('merged_by_id', sa.Integer(), nullable=True),
    sa.Column('undone_at', vaxportal.timeutil.UTCDateTime(), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_id'], ['duplicate_candidate.id'],
                            name=op.f('fk_recipient_merge_candidate_id_duplicate_candidate')),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                            name=op.f('fk_recipient_merge_facility_id_facility')),
    sa.ForeignKeyConstraint(['gone_id'], ['recipient.id'],
                            name=op.f('fk_recipient_merge_gone_id_recipient')),
    sa.ForeignKeyConstraint(['kept_id'], ['recipient.id'],
                            name=op.f('fk_recipient_merge_kept_id_recipient')),
    sa.ForeignKeyConstraint(['merged_by_id'], ['account.id'],
                            name=op.f('fk_recipient_merge_merged_by_id_account')),
    sa.ForeignKeyConstraint(['undone_by_id'], ['account.id'],
                            name=op.f('fk_recipient_merge_undone_by_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_merge'))
    )
    with op.batch_alter_table('recipient_merge', schema=None) as batch_op:
        for column in ('candidate_id', 'facility_id', 'gone_id', 'kept_id'):
            batch_op.create_index(batch_op.f(f'ix_recipient_merge_{column}'), [column],
                                  unique=False)


def downgrade():
    with op.batch_alter_table('recipient_merge', schema=None) as batch_op:
        for column in ('candidate_id', 'facility_id', 'gone_id', 'kept_id'):
            batch_op.drop_index(batch_op.f(f'ix_recipient_merge_{column}'))
    op.drop_table('recipient_merge')
