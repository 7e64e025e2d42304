"""a duplicate pair is queued once: the doubled rows two scans at once left are removed, and a
unique index keeps it so

Revision ID: pairs01
Revises: search02
Create Date: 2026-12-04 23:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'pairs01'
down_revision = "search02"
branch_labels = None
depends_on = None


def upgrade():
    """The application's own rule (`scan.remove_doubled_pairs`), through an ORM session of
    the application on the upgrade's connection: the audit trail records each removal in
    the same transaction (P2.4); then the index."""
    from vaxportal.dbsetup import application_session
    from vaxportal.recipients.scan import remove_doubled_pairs

    with application_session(op.get_bind()) as session:  # the upgrade's transaction
        remove_doubled_pairs(session)
    op.create_index("uq_duplicate_candidate_pair", "duplicate_candidate",
                    ["recipient_id", "other_id"], unique=True)


def downgrade():
    """The rows removed stay removed: they are in the audit trail."""
    op.drop_index("uq_duplicate_candidate_pair", table_name="duplicate_candidate")
