"""the coverage summary (issue 15, "Fast at province scale"): one row per person counted and
a dated tally rolled up to every facility, the doses counted by day, vaccine and number at
every facility above; filled from the doses already recorded

Revision ID: coverage01
Revises: aefi01
Create Date: 2026-12-03 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'coverage01'
down_revision = "aefi01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coverage_person',
    sa.Column('recipient_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('priority_group', sa.String(length=60), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('first_on', sa.Date(), nullable=False),
    sa.Column('complete_on', sa.Date(), nullable=True),
    sa.Column('booster_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('recipient_id', name=op.f('pk_coverage_person'))
    )
    with op.batch_alter_table('coverage_person', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_person_facility', ['facility_id', 'first_on'],
                              unique=False)
    op.create_table('coverage_tally',
    sa.Column('node_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('grain', sa.String(length=1), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('priority_group', sa.String(length=60), nullable=False),
    sa.Column('band', sa.String(length=8), nullable=False),
    sa.Column('dose1', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Integer(), nullable=False),
    sa.Column('booster', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('node_id', 'grain', 'day', 'priority_group', 'band',
                            name=op.f('pk_coverage_tally'))
    )
    op.create_table('dose_tally',
    sa.Column('node_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('vaccine_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('dose_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('doses', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('node_id', 'day', 'vaccine_id', 'dose_number',
                            name=op.f('pk_dose_tally'))
    )
    # The people already vaccinated: one INSERT ... SELECT, then their tally, by the
    # application's own rule (``reports.summary.rebuild``) on the upgrade's connection.
    from vaxportal.reports.summary import rebuild

    rebuild(op.get_bind())


def downgrade():
    op.drop_table('dose_tally')
    op.drop_table('coverage_tally')
    with op.batch_alter_table('coverage_person', schema=None) as batch_op:
        batch_op.drop_index('ix_coverage_person_facility')
    op.drop_table('coverage_person')
