"""a live phone number belongs to one live account at a time (P4.1): a partial unique index

Revision ID: phones01
Revises: people01
Create Date: 2026-12-03 18:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'phones01'
down_revision = "people01"
branch_labels = None
depends_on = None

LIVE = "status != 'revoked'"


def upgrade():
    shared = op.get_bind().execute(sa.text(
        f"SELECT phone, COUNT(*) FROM account WHERE {LIVE} GROUP BY phone HAVING COUNT(*) > 1"
    )).all()
    if shared:
        raise RuntimeError(
            "Live accounts share a phone number; hand one over or revoke it before upgrading "
            f"(P4.1): {', '.join(f'{count} accounts' for _phone, count in shared)}")
    op.create_index('uq_account_live_phone', 'account', ['phone'], unique=True,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))


def downgrade():
    op.drop_index('uq_account_live_phone', table_name='account')
