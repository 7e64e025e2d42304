"""``vaxportal backup`` and ``vaxportal restore``: the database's copies (issue 13).

SQLite (the embedded database): a consistent copy through SQLite's online backup API
(``sqlite3.Connection.backup``, which copies a snapshot even while another connection
writes), written 0600 in a 0700 directory, then ``PRAGMA integrity_check`` on the copy.
PostgreSQL: ``pg_dump -Fc`` is the backup; ``backup`` prints the exact command for the
configured database (never its password) and exits 2, or runs it with ``--run-pg-dump``.

A restore (SQLite) checks the file first: an intact SQLite database of vaxportal at the
migration head whose audit chain verifies against the checkpoints that still apply. It keeps
a copy of the database it replaces, then writes a restore mark (``audit.checkpoint``) so that
``vaxportal audit verify`` knows the chain went back to the backup's head, and says so, rather
than failing on checkpoints of rows the restore removed. After ``pg_restore`` the same mark is
written by ``vaxportal restore --after-pg-restore DUMP``. Each backup and restore is an audit
event (category account, the console as actor).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from vaxportal import audit
from vaxportal.audit import chain, checkpoint, integrity
from vaxportal.exports.storage import create_private, private_dir
from vaxportal.extensions import db, migrations_dir
from vaxportal.timeutil import utcnow

#: the tables a file must hold to be taken for a vaxportal database
CORE_TABLES = ("alembic_version", "facility", "account", "recipient", "dose", "audit_event")
#: ``backup``'s exit status when it only printed the pg_dump command
PRINTED_ONLY = 2


class BackupError(click.ClickException):
    """A backup or restore refused or failed; the message says why (exit status 1)."""


def init_app(app) -> None:
    if not app.config.get("BACKUP_DIR"):
        app.config["BACKUP_DIR"] = os.path.join(app.instance_path, "backups")
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


# -- where the database is ------------------------------------------------------------------

def sqlite_path() -> Path | None:
    """The app's SQLite file (None: the database is not a SQLite file)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def default_target(suffix: str) -> Path:
    stamp = utcnow().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(current_app.config["BACKUP_DIR"]) / f"vaxportal-{stamp}{suffix}"


def migration_heads() -> set[str]:
    # here, not at the top: Alembic is for the console script's commands, not a web worker's
    # memory (``extensions.init_migrations``)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", migrations_dir(current_app))
    return set(ScriptDirectory.from_config(config).get_heads())


# -- SQLite ---------------------------------------------------------------------------------

def copy_sqlite(source: Path, target: Path) -> None:
    """``source`` copied page by page into ``target`` by SQLite's online backup API."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def integrity_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite file ([] when it is intact)."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return [str(error)]
    return [] if rows == ["ok"] else rows


def backup_sqlite(source: Path, target: Path) -> dict:
    """A checked copy of ``source`` at ``target`` (0600 in a 0700 directory)."""
    private_dir(target.parent)
    partial = create_private(target.with_name(target.name + ".part"))
    try:
        copy_sqlite(source, partial)
        problems = integrity_problems(partial)
        if problems:
            raise BackupError(_("Bản sao lưu không nguyên vẹn: %(p)s", p="; ".join(problems)))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return {"file": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target),
            **_head_of(target)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _engine_for(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)


def _head_of(path: Path) -> dict:
    engine = _engine_for(path)
    try:
        with engine.connect() as conn:
            return {"audit_" + key: value for key, value in checkpoint.head(conn).items()}
    finally:
        engine.dispose()


def check_restorable(path: Path) -> dict:
    """Refuse a file that is not an intact vaxportal database at the migration head with an
    audit chain that verifies; its chain's head when it is one."""
    if not path.is_file():
        raise BackupError(_("Không có tệp %(path)s.", path=path))
    problems = integrity_problems(path)
    if problems:
        raise BackupError(_("Tệp không phải là cơ sở dữ liệu SQLite nguyên vẹn: %(p)s",
                            p="; ".join(problems)))
    engine = _engine_for(path)
    try:
        with engine.connect() as conn:
            _check_schema(conn)
            head = checkpoint.head(conn)
            verdict = chain.verify(conn, _as_if_restored(head, path.name))
    finally:
        engine.dispose()
    if not verdict.ok:
        raise BackupError(_("Nhật ký trong bản sao lưu không hợp lệ: %(m)s",
                            m=integrity.message(verdict)))
    return head


def _as_if_restored(head: dict, name: str) -> list[dict]:
    """The checkpoints as they will be once the restore mark of ``head`` is written (the
    mark signed here, in memory only): the ones past the backup's head stop applying."""
    mark = {"at": utcnow().astimezone(UTC).isoformat(timespec="seconds"), **head,
            "restored_from": name, "backup_at": None}
    mark["sig"] = checkpoint.signature(mark)
    return [*checkpoint.read_all(), mark]


def _check_schema(conn: sa.Connection) -> None:
    tables = set(sa.inspect(conn).get_table_names())
    if not set(CORE_TABLES) <= tables:
        raise BackupError(_("Tệp không phải là cơ sở dữ liệu của vaxportal."))
    versions = set(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    if versions != migration_heads():
        raise BackupError(_("Bản sao lưu ở phiên bản lược đồ %(have)s, ứng dụng cần %(need)s: "
                            "hãy khôi phục vào một bản cài đặt cùng phiên bản rồi chạy "
                            "`vaxportal db upgrade`.", have=", ".join(sorted(versions)) or "-",
                            need=", ".join(sorted(migration_heads()))))


def restore_sqlite(source: Path, live: Path) -> dict:
    """Replace the app's database by ``source``: the current one is copied aside first."""
    check_restorable(source)
    kept = None
    if live.exists():
        kept = default_target(".before-restore.sqlite3")
        backup_sqlite(live, kept)
    db.engine.dispose()  # no pooled connection of ours keeps the old file open
    copy_sqlite(source, live)
    return {"kept": kept.name if kept else None}


# -- the restore mark and the audit rows ----------------------------------------------------

def mark_restored(source: Path) -> dict:
    """A signed checkpoint of the restored head, naming the backup (``audit.checkpoint``)."""
    made = datetime.fromtimestamp(source.stat().st_mtime, UTC).isoformat(timespec="seconds")
    with db.engine.begin() as conn:
        chain.lock(conn)
        return checkpoint.write({**checkpoint.head(conn), "restored_from": source.name,
                                 "backup_at": made})


def record(action: str, details: dict) -> None:
    """The backup or restore as an account event of the console (its own commit)."""
    audit.record(action, category="account", entity="database", details=details)
    db.session.commit()


# -- PostgreSQL -----------------------------------------------------------------------------

def pg_dump_command(target: Path) -> list[str]:
    """``pg_dump -Fc`` of the configured database, without its password (libpq reads it
    from ``PGPASSWORD`` or ``~/.pgpass``)."""
    url = db.engine.url
    return ["pg_dump", "-Fc", "--no-owner", *libpq_flags(url), "-f", str(target),
            url.database or ""]


def libpq_flags(url: sa.engine.URL) -> list[str]:
    """``-h``, ``-p`` and ``-U`` of a PostgreSQL URL for libpq's tools (pg_dump,
    pg_restore), password left out. A server reached through its Unix socket is named in
    the query (``postgresql+psycopg://user@/db?host=/var/run/postgresql``, libpq's own
    form): the host is that folder, the port the query's when it gives one."""
    def query(key: str) -> str | None:
        value = url.query.get(key)
        return value[0] if isinstance(value, tuple) else value

    args = []
    for flag, value in (("-h", url.host or query("host")), ("-p", url.port or query("port")),
                        ("-U", url.username)):
        if value:
            args += [flag, str(value)]
    return args


def run_pg_dump(target: Path) -> dict:
    if shutil.which("pg_dump") is None:
        raise BackupError(_("Không tìm thấy pg_dump trong PATH."))
    private_dir(target.parent)
    create_private(target)
    env = dict(os.environ)
    if db.engine.url.password:
        env["PGPASSWORD"] = db.engine.url.password
    done = subprocess.run(pg_dump_command(target), env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(_("pg_dump thất bại (mã %(code)s).", code=done.returncode))
    return {"file": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target)}


# -- the commands ---------------------------------------------------------------------------

@click.command("backup")
@click.option("--to", "to", type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp bản sao lưu (mặc định instance/backups/vaxportal-<giờ UTC>.sqlite3).")
@click.option("--run-pg-dump", is_flag=True,
              help="PostgreSQL: chạy pg_dump thay vì chỉ in lệnh.")
@with_appcontext
def backup_command(to: Path | None, run_pg_dump: bool) -> None:
    """Sao lưu cơ sở dữ liệu (SQLite: API sao lưu trực tuyến; PostgreSQL: pg_dump -Fc)."""
    source = sqlite_path()
    target = to or default_target(".sqlite3" if source else ".dump")
    if target.exists():
        raise BackupError(_("Tệp %(path)s đã có: một bản sao lưu không bao giờ bị ghi đè.",
                            path=target))
    if source is None:
        _backup_postgres(target, run_pg_dump)
        return
    done = backup_sqlite(source, target)
    record("backup", done)
    click.echo(_("Đã sao lưu vào %(path)s (%(n)s bản ghi nhật ký, kiểm tra toàn vẹn: ok).",
                 path=target, n=done["audit_count"]))


def _backup_postgres(target: Path, run: bool) -> None:
    if db.engine.url.get_backend_name() != "postgresql":
        raise BackupError(_("Chỉ sao lưu được SQLite và PostgreSQL."))
    if not run:
        click.echo(shlex.join(pg_dump_command(target)))
        raise SystemExit(PRINTED_ONLY)
    done = run_pg_dump(target)
    record("backup", done)
    click.echo(_("Đã sao lưu vào %(path)s.", path=target))


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Ghi đè cơ sở dữ liệu hiện có.")
@click.option("--after-pg-restore", is_flag=True,
              help="PostgreSQL: pg_restore đã chạy; chỉ ghi dấu khôi phục cho nhật ký.")
@with_appcontext
def restore_command(path: Path, force: bool, after_pg_restore: bool) -> None:
    """Khôi phục cơ sở dữ liệu SQLite từ một bản sao lưu (dừng web và worker trước)."""
    if after_pg_restore:
        _after_pg_restore(path)
        return
    live = sqlite_path()
    if live is None:
        raise BackupError(_("Cơ sở dữ liệu của ứng dụng không phải SQLite: dùng pg_restore, "
                            "rồi `vaxportal restore --after-pg-restore TỆP`."))
    if live.exists() and live.stat().st_size and not force:
        raise BackupError(_("Cơ sở dữ liệu %(path)s đã có: thêm --force để ghi đè (một bản "
                            "sao của nó được giữ lại trước).", path=live))
    done = restore_sqlite(path, live)
    _finish_restore(path, done)


def _after_pg_restore(path: Path) -> None:
    if db.engine.url.get_backend_name() != "postgresql":
        raise BackupError(_("--after-pg-restore chỉ dùng với PostgreSQL."))
    if not path.is_file():
        raise BackupError(_("Không có tệp %(path)s.", path=path))
    with db.engine.connect() as conn:
        _check_schema(conn)
        verdict = chain.verify(conn, _as_if_restored(checkpoint.head(conn), path.name))
    if not verdict.ok:
        raise BackupError(_("Nhật ký sau khi khôi phục không hợp lệ: %(m)s",
                            m=integrity.message(verdict)))
    _finish_restore(path, {"kept": None})


def _finish_restore(path: Path, done: dict) -> None:
    mark = mark_restored(path)
    record("restore", {"file": path.name, "backup_at": mark["backup_at"],
                       "audit_count": mark["count"], "audit_last_id": mark["last_id"],
                       "kept": done["kept"]})
    verdict = integrity.verify_now()
    click.echo(_("Đã khôi phục từ %(path)s.", path=path))
    click.echo(integrity.message(verdict), err=not verdict.ok)
    if not verdict.ok:
        raise SystemExit(1)
