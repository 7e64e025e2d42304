"""Where export files, uploaded spreadsheets and their reports live on disk (EXPORT_DIR).

Web processes and ``vaxportal worker`` processes must share this directory. File names are
job ids only: nothing personal in a path.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flask import current_app


def init_app(app) -> None:
    if not app.config.get("EXPORT_DIR"):
        app.config["EXPORT_DIR"] = os.path.join(app.instance_path, "exports")


def base_dir() -> Path:
    path = Path(current_app.config["EXPORT_DIR"])
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def export_path(job_id: str) -> Path:
    return base_dir() / f"{job_id}.xlsx"


def partial_path(job_id: str) -> Path:
    """Written here first, renamed to ``export_path`` when complete."""
    return base_dir() / f"{job_id}.xlsx.part"


def upload_path(job_id: str) -> Path:
    return _imports() / f"{job_id}.xlsx"


def report_path(job_id: str) -> Path:
    return _imports() / f"{job_id}-bao-cao.xlsx"


def _imports() -> Path:
    path = base_dir() / "imports"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
