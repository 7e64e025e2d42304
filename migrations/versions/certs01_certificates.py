"""vaccination certificates and the revocation list

Revision ID: certs01
Revises: 87738ee34b91
Create Date: 2026-12-03 12:20:00

"""
from alembic import op
import sqlalchemy as sa
import vaxportal.timeutil


revision = 'certs01'
down_revision = '87738ee34b91'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('uvci', sa.String(length=80), nullable=False),
    sa.Column('hc1', sa.Text(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('expires_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', vaxportal.timeutil.UTCDateTime(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], name=op.f('fk_certificate_dose_id_dose'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_certificate_facility_id_facility')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['account.id'], name=op.f('fk_certificate_issued_by_id_account')),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], name=op.f('fk_certificate_recipient_id_recipient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    sa.UniqueConstraint('uvci', name=op.f('uq_certificate_uvci'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_dose_id'), ['dose_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('revoked_certificate',
    sa.Column('uvci_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', vaxportal.timeutil.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('uvci_hash', name=op.f('pk_revoked_certificate'))
    )


def downgrade():
    op.drop_table('revoked_certificate')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_facility_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_dose_id'))
    op.drop_table('certificate')
