"""older free text of the coded fields becomes codes where it matches; the rest is kept in
`recipient.uncoded` for review (`vaxportal codes unmatched` lists it)

Revision ID: codes02
Revises: entry01
Create Date: 2026-12-03 15:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'codes02'
down_revision = "entry01"
branch_labels = None
depends_on = None


def upgrade():
    """The application's own rule (`codes.match_older_values`), through an ORM session of
    the application on the upgrade's connection: the audit trail records each change in
    the same transaction (P2.4). It loads only the columns of `recipient` it reads and
    writes, which this revision has, whatever columns later migrations add."""
    from vaxportal.dbsetup import application_session
    from vaxportal.recipients.codes import match_older_values

    with application_session(op.get_bind()) as session:  # the upgrade's transaction
        match_older_values(session)


def downgrade():
    """Codes stay codes: the text they replaced is in the audit trail."""
