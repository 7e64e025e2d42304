"""a facility's confirmation of its day totals (the daily report)

Revision ID: daily01
Revises: dupes01
Create Date: 2026-12-03 18:00:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


# revision identifiers, used by Alembic.
revision = 'daily01'
down_revision = "dupes01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_report_confirmation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('confirmed_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                            name=op.f('fk_daily_report_confirmation_account_id_account')),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                            name=op.f('fk_daily_report_confirmation_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_report_confirmation')),
    sa.UniqueConstraint('facility_id', 'day',
                        name=op.f('uq_daily_report_confirmation_facility_id'))
    )


def downgrade():
    op.drop_table('daily_report_confirmation')
