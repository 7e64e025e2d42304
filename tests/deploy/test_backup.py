"""``vaxportal backup`` and ``vaxportal restore`` on the embedded SQLite database (issue 13):
a consistent, checked, private copy; a restore that brings the data back as it was and
leaves the audit trail verifiable (P2.4), even though checkpoints were written after the
backup."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from tests.helpers import audit
from vaxportal import backup
from vaxportal.audit import checkpoint
from vaxportal.extensions import db
from vaxportal.recipients.models import Recipient
from vaxportal.recipients.services import create_recipient


def _register(facility_id: int, name: str, nid: str) -> int:
    person = create_recipient({"full_name": name, "gender": "female",
                               "date_of_birth": date(1990, 5, 6), "national_id": nid},
                              facility_id)
    db.session.commit()
    return person.id


def _names() -> list[str]:
    db.session.remove()
    return sorted(db.session.scalars(sa.select(Recipient.full_name)))


def test_p2_4_restore_brings_back_the_data_and_a_trail_that_verifies(cli, province, tmp_path):
    first = _register(province["s1"], "Trần Thị Bình", "089090123456")
    assert cli("audit", "checkpoint").exit_code == 0
    copy = tmp_path / "saved" / "before.sqlite3"
    made = cli("backup", "--to", str(copy))
    assert made.exit_code == 0, made.output
    # the data changes after the backup, and the day's checkpoints follow it
    person = db.session.get(Recipient, first)
    person.full_name = "Trần Thị Bình Sửa"
    db.session.commit()
    _register(province["s2"], "Lê Văn Sau", "089090654321")
    assert cli("audit", "checkpoint").exit_code == 0
    assert _names() == ["Lê Văn Sau", "Trần Thị Bình Sửa"]

    restored = cli("restore", str(copy), "--force")

    assert restored.exit_code == 0, restored.output
    assert _names() == ["Trần Thị Bình"]
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "before.sqlite3" in verified.output  # verify names the restore, never silent
    restore = audit("restore")
    assert len(restore) == 1 and restore[0].category == "account"
    assert restore[0].actor.startswith("console:")
    assert restore[0].details["file"] == "before.sqlite3"


def test_p2_4_a_file_copied_back_by_hand_fails_verify(cli, province, tmp_path):
    """Why restore writes its mark: the checkpoints written after the backup name rows the
    copy does not hold, and verify reports a truncated trail."""
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    copy = tmp_path / "before.sqlite3"
    assert cli("backup", "--to", str(copy)).exit_code == 0
    _register(province["s2"], "Lê Văn Sau", "089090654321")
    assert cli("audit", "checkpoint").exit_code == 0
    db.engine.dispose()
    shutil.copyfile(copy, backup.sqlite_path())

    assert cli("audit", "verify").exit_code == 1


def test_backup_is_private_checked_and_audited(cli, province, tmp_path):
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    copy = tmp_path / "new-dir" / "b.sqlite3"

    made = cli("backup", "--to", str(copy))

    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    assert backup.integrity_problems(copy) == []
    assert not list(copy.parent.glob("*.part"))
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT full_name FROM recipient").fetchall() == [("Trần Thị Bình",)]
    event = audit("backup")
    assert len(event) == 1 and event[0].category == "account"
    assert event[0].actor.startswith("console:") and event[0].details["file"] == "b.sqlite3"


def test_backup_never_overwrites_a_file(cli, province, tmp_path):
    copy = tmp_path / "b.sqlite3"
    copy.write_bytes(b"an older backup")

    refused = cli("backup", "--to", str(copy))

    assert refused.exit_code == 1 and copy.read_bytes() == b"an older backup"


def test_backup_by_default_goes_to_the_backup_dir(cli, sqlite_app, province):
    assert cli("backup").exit_code == 0
    made = list(Path(sqlite_app.config["BACKUP_DIR"]).glob("vaxportal-*Z.sqlite3"))
    assert len(made) == 1


def test_backup_copes_with_a_writer_holding_its_transaction(sqlite_app, province, tmp_path):
    """The online backup API copies the committed state while another connection is in the
    middle of a write transaction (what it holds is not in the copy)."""
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    writer = sqlite3.connect(backup.sqlite_path(), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE recipient SET full_name = 'chưa ghi'")
    try:
        backup.backup_sqlite(backup.sqlite_path(), tmp_path / "during.sqlite3")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with sqlite3.connect(tmp_path / "during.sqlite3") as conn:
        assert conn.execute("SELECT full_name FROM recipient").fetchall() == [("Trần Thị Bình",)]


def test_restore_refuses_to_overwrite_without_force(cli, province, tmp_path):
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    copy = tmp_path / "before.sqlite3"
    assert cli("backup", "--to", str(copy)).exit_code == 0
    _register(province["s2"], "Lê Văn Sau", "089090654321")

    refused = cli("restore", str(copy))

    assert refused.exit_code == 1 and "--force" in refused.output
    assert _names() == ["Lê Văn Sau", "Trần Thị Bình"]


def test_restore_keeps_a_copy_of_the_database_it_replaces(cli, sqlite_app, province, tmp_path):
    copy = tmp_path / "empty.sqlite3"
    assert cli("backup", "--to", str(copy)).exit_code == 0
    _register(province["s1"], "Trần Thị Bình", "089090123456")

    assert cli("restore", str(copy), "--force").exit_code == 0

    kept = list(Path(sqlite_app.config["BACKUP_DIR"]).glob("*.before-restore.sqlite3"))
    assert len(kept) == 1
    with sqlite3.connect(kept[0]) as conn:
        assert conn.execute("SELECT full_name FROM recipient").fetchall() == [("Trần Thị Bình",)]


def test_restore_refuses_a_file_that_is_not_a_vaxportal_database(cli, province, tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    _register(province["s1"], "Trần Thị Bình", "089090123456")

    for path in (junk, other, tmp_path / "missing.sqlite3"):
        refused = cli("restore", str(path), "--force")
        assert refused.exit_code == 1, path
    assert _names() == ["Trần Thị Bình"]


def test_restore_refuses_a_backup_of_another_schema_version(cli, province, tmp_path):
    copy = tmp_path / "old.sqlite3"
    assert cli("backup", "--to", str(copy)).exit_code == 0
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'codes01'")

    refused = cli("restore", str(copy), "--force")

    assert refused.exit_code == 1 and "codes01" in refused.output


def test_p2_4_restore_refuses_a_backup_whose_trail_was_rewritten(cli, province, tmp_path):
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    copy = tmp_path / "forged.sqlite3"
    assert cli("backup", "--to", str(copy)).exit_code == 0
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET actor = 'someone else' WHERE id = 1")
    _register(province["s2"], "Lê Văn Sau", "089090654321")

    refused = cli("restore", str(copy), "--force")

    assert refused.exit_code == 1
    assert _names() == ["Lê Văn Sau", "Trần Thị Bình"]


def test_p2_4_a_restore_mark_cannot_be_forged_without_the_audit_key(cli, province, tmp_path):
    """The restore mark is a signed checkpoint: a line that claims a restore without the
    key's signature makes verify fail, so cutting the table and writing a mark by hand is
    found."""
    _register(province["s1"], "Trần Thị Bình", "089090123456")
    assert cli("audit", "checkpoint").exit_code == 0
    record = checkpoint.read_all()[-1]
    forged = {**record, "restored_from": "x.sqlite3", "backup_at": None}
    with open(checkpoint.path(), "a", encoding="utf-8") as handle:
        handle.write(checkpoint.json.dumps(forged) + "\n")

    assert cli("audit", "verify").exit_code == 1
