"""stored searches indexed by account and time: an account's expired searches are swept as
one range of the index, and the scheduled cleanup removes every account's

Revision ID: search02
Revises: nameorder02
Create Date: 2026-12-04 17:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'search02'
down_revision = "nameorder02"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_recipient_search_account_id_created_at', 'recipient_search',
                    ['account_id', 'created_at'], unique=False)
    op.drop_index('ix_recipient_search_account_id', table_name='recipient_search')


def downgrade():
    op.create_index('ix_recipient_search_account_id', 'recipient_search', ['account_id'],
                    unique=False)
    op.drop_index('ix_recipient_search_account_id_created_at', table_name='recipient_search')
