"""SQLite: the names' FTS5 table also indexes each recipient's facility, so that a station's
name search intersects its own rows' list with the typed words' lists instead of testing
each of its rows (a station of 100,000 people in a province of 2,000,000: 200 ms a search)

PostgreSQL is not concerned: its GIN index and facility index are combined by the planner.

Revision ID: namefts02
Revises: namewords01
Create Date: 2026-12-04 08:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'namefts02'
down_revision = "namewords01"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # the table, its triggers and its index from the rows, as the application declares
        # them (models.NAME_INDEX_DDL: each install drops and builds the whole index again)
        from vaxportal.recipients.models import NAME_INDEX_DDL

        for statement in NAME_INDEX_DDL['sqlite']:
            bind.exec_driver_sql(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # the table of the revision before, as that revision writes it
        script = op.get_context().environment_context.script
        script.get_revision(down_revision).module.install_sqlite_index(bind)
