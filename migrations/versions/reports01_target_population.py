"""target populations of each facility; doses indexed by facility and day (reports)

Revision ID: reports01
Revises: bench01
Create Date: 2026-12-03 15:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'reports01'
down_revision = "bench01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('target_population',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('priority_group', sa.String(length=16), nullable=False),
    sa.Column('age_band', sa.String(length=8), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('created_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('updated_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                            name=op.f('fk_target_population_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_target_population')),
    sa.UniqueConstraint('facility_id', 'period_start', 'priority_group', 'age_band',
                        name=op.f('uq_target_population_facility_id'))
    )
    with op.batch_alter_table('target_population', schema=None) as batch_op:
        batch_op.create_index('ix_target_population_facility_period',
                              ['facility_id', 'period_end'], unique=False)
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.create_index('ix_dose_facility_given_on', ['facility_id', 'given_on'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_index('ix_dose_facility_given_on')
    with op.batch_alter_table('target_population', schema=None) as batch_op:
        batch_op.drop_index('ix_target_population_facility_period')
    op.drop_table('target_population')
