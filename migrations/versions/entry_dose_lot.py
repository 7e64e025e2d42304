"""the lot register of each facility: lot, vaccine, expiry, first and last use

Revision ID: entry01
Revises: words01
Create Date: 2026-12-03 13:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'entry01'
down_revision = "words01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dose_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('lot_number', sa.String(length=40), nullable=False),
    sa.Column('vaccine_id', sa.Integer(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('first_used_on', sa.Date(), nullable=True),
    sa.Column('last_used_on', sa.Date(), nullable=True),
    sa.Column('created_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                            name=op.f('fk_dose_lot_facility_id_facility')),
    sa.ForeignKeyConstraint(['vaccine_id'], ['vaccine.id'],
                            name=op.f('fk_dose_lot_vaccine_id_vaccine')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_lot')),
    sa.UniqueConstraint('facility_id', 'lot_number', 'vaccine_id',
                        name=op.f('uq_dose_lot_facility_id'))
    )
    with op.batch_alter_table('dose_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dose_lot_facility_id'), ['facility_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('dose_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dose_lot_facility_id'))
    op.drop_table('dose_lot')
