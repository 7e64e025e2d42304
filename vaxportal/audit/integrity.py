"""Checking the trail (P2.4): one verification and one checkpoint, shared by the console
(``vaxportal audit verify`` / ``checkpoint``) and the audit page."""

from __future__ import annotations

from flask_babel import gettext as _

from vaxportal.audit import chain, checkpoint
from vaxportal.extensions import db
from vaxportal.timeutil import format_datetime

REASONS = {
    "missing": lambda v: _("bản ghi #%(id)s đã bị xoá", id=v.missing_id),
    "link": lambda v: _("mã băm của bản ghi trước không khớp"),
    "content": lambda v: _("nội dung đã bị sửa"),
    "truncated": lambda v: _("bản ghi #%(id)s có trong điểm kiểm soát nhưng không còn trong "
                             "bảng", id=v.broken_id),
    "checkpoint": lambda v: _("không khớp với điểm kiểm soát đã ký"),
}


def verify_now() -> chain.Verdict:
    """The whole chain against every checkpoint, on a connection of its own."""
    with db.engine.connect() as conn:
        return chain.verify(conn)


def take_checkpoint() -> dict:
    """Sign and keep the head of the chain now (under the append lock: a consistent head)."""
    with db.engine.begin() as conn:
        chain.lock(conn)
        return checkpoint.write(checkpoint.head(conn))


def message(verdict: chain.Verdict) -> str:
    """What the verification found, in the reader's language."""
    if verdict.ok:
        text = _("Đã kiểm tra %(n)s bản ghi: chuỗi nhật ký nguyên vẹn.", n=verdict.checked)
    elif verdict.reason == "signature":
        text = _("Chuỗi nhật ký bị phá vỡ: tệp điểm kiểm soát có dòng không mang chữ ký hợp "
                 "lệ.")
    elif verdict.reason == "no_checkpoint":
        text = _("Chuỗi nhật ký bị phá vỡ: không tìm thấy điểm kiểm soát nào cho %(n)s bản "
                 "ghi (tệp điểm kiểm soát đã bị xoá hoặc chưa từng được ghi).",
                 n=verdict.checked)
    else:
        text = _("Chuỗi nhật ký bị phá vỡ tại bản ghi #%(id)s (%(reason)s); %(n)s bản ghi "
                 "trước đó hợp lệ.", id=verdict.broken_id,
                 reason=REASONS[verdict.reason](verdict), n=verdict.checked)
    return f"{text} {last_checkpoint_text(verdict.checkpoint_at)}"


def last_checkpoint_text(at=None) -> str:
    at = at or checkpoint.last_time()
    if at is None:
        return _("Chưa có điểm kiểm soát nào.")
    return _("Điểm kiểm soát gần nhất: %(at)s.", at=format_datetime(at))
