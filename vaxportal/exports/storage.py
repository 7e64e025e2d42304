"""Where export files, uploaded spreadsheets and their reports live on disk (EXPORT_DIR).

Web processes and ``vaxportal worker`` processes must share this directory. File names are
job ids only: nothing personal in a path. Directories are 0700 and files 0600 whatever the
process's umask: only the account running vaxportal reads them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flask import current_app


def init_app(app) -> None:
    if not app.config.get("EXPORT_DIR"):
        app.config["EXPORT_DIR"] = os.path.join(app.instance_path, "exports")


DIR_MODE = 0o700
FILE_MODE = 0o600


def base_dir() -> Path:
    return private_dir(Path(current_app.config["EXPORT_DIR"]))


def export_path(job_id: str) -> Path:
    return base_dir() / f"{job_id}.xlsx"


def partial_path(job_id: str) -> Path:
    """Written here first, renamed to ``export_path`` when complete."""
    return base_dir() / f"{job_id}.xlsx.part"


def upload_path(job_id: str) -> Path:
    return _imports() / f"{job_id}.xlsx"


def report_path(job_id: str) -> Path:
    return _imports() / f"{job_id}-bao-cao.xlsx"


def checked_path(job_id: str) -> Path:
    """The dry run's checked rows (their stored values), read back by the writing."""
    return _imports() / f"{job_id}-checked.jsonl"


def _imports() -> Path:
    return private_dir(base_dir() / "imports")


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:  # made earlier, or by mkdir under a umask
        path.chmod(DIR_MODE)
    return path


def create_private(path: Path) -> Path:
    """``path`` as an empty file only its owner can read and write (0600), made so before
    a byte is written; a writer that opens it by name later keeps that mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                 FILE_MODE)
    try:
        if hasattr(os, "fchmod"):  # a file that was there keeps its mode through O_CREAT
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path):
    """``path`` opened for binary writing, created 0600."""
    return open(create_private(path), "wb")  # an existing file keeps its mode


def remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
