"""What the audit pages call things: every action an audit row can carry, every entity,
every audited column and every detail key, in Vietnamese (English through gettext).

The one table of action names is ``ACTIONS`` (``tests/audit/test_labels.py`` walks the code
base and fails on an action written anywhere without its label here). The labels other
domains already give their own words keep their one place and are read from there: a
recipient's fields from ``recipients/fields.py``, the account lifecycle's actions from
``facilities/lifecycle.ACTION_LABELS``, the kinds of pending account actions from
``facilities/approvals.KIND_LABELS``. Above the domains (the reading side): the audit
core never imports this module.
"""

from __future__ import annotations

from flask_babel import LazyString, gettext, lazy_pgettext
from flask_babel import lazy_gettext as _l

from vaxportal.facilities.approvals import KIND_LABELS as PENDING_KIND_LABELS
from vaxportal.facilities.lifecycle import ACTION_LABELS as LIFECYCLE_LABELS
from vaxportal.recipients import fields

# -- actions ---------------------------------------------------------------------------------

#: the session hook's rows (``audit/hook.py``): any audited model, data or account (in the
#: "nhật ký" context: English says what happened, not a button's verb)
CHANGES = {"insert": lazy_pgettext("nhật ký", "Thêm"), "update": lazy_pgettext("nhật ký", "Sửa"),
           "delete": lazy_pgettext("nhật ký", "Xoá")}

#: access to recipient data that only reads it: hidden from the list unless asked for
VIEWS = {
    "view_identity": _l("Xem hồ sơ đối tượng tiêm"),
    "view_minimal": _l("Xem thông tin tối thiểu (kiểm tra trùng)"),
    "cross_facility_lookup": _l("Tra cứu ngoài cơ sở"),
}

#: events about recipient data (read by the data audit)
DATA = {
    **VIEWS,
    "dose_correct": _l("Sửa mũi tiêm"),
    "dose_delete": _l("Xoá mũi tiêm"),
    "merge": _l("Gộp hồ sơ trùng"),
    "unmerge": _l("Hoàn tác gộp hồ sơ"),
    "certificate_issue": _l("Cấp giấy chứng nhận tiêm chủng"),
    "export_requested": _l("Yêu cầu xuất Excel"),
    "export_code_refused": _l("Xuất Excel: mã OTP bị từ chối"),
    "export_confirmed": _l("Xác nhận xuất Excel"),
    "export_rows_changed": _l("Xuất Excel bị huỷ vì danh sách đã thay đổi"),
    "export_cancelled": _l("Huỷ xuất Excel"),
    "export_failed": _l("Xuất Excel thất bại"),
    "export_completed": _l("Xuất Excel hoàn tất"),
    "export_downloaded": _l("Tải tệp Excel đã xuất"),
    "export_aggregate": _l("Xuất bảng tổng hợp ra Excel"),
    "import_uploaded": _l("Tải lên tệp nhập Excel"),
    "import_checked": _l("Kiểm tra thử tệp nhập Excel"),
    "import_confirmed": _l("Xác nhận nhập Excel"),
    "import_discarded": _l("Bỏ tệp nhập Excel"),
    "import_failed": _l("Nhập Excel thất bại"),
    "import_completed": _l("Nhập Excel hoàn tất"),
}

#: verbs of the second-person approval (``facilities/approvals.py``): ``<verb>_<kind>``
APPROVAL_VERBS = {
    "request": _l("Đề nghị phê duyệt"),
    "approve": _l("Đã phê duyệt"),
    "refuse": _l("Đã từ chối"),
    "expire": _l("Đã hết hạn"),
}


def _approval(verb, kind) -> LazyString:
    return LazyString(lambda: gettext("%(verb)s: %(kind)s", verb=verb, kind=kind))


#: account and security events (read by the security audit)
SECURITY = {
    "login_ok": _l("Đăng nhập thành công"),
    "login_failed": _l("Đăng nhập thất bại"),
    "otp_failed": _l("Nhập sai mã OTP"),
    "otp_replayed": _l("Mã OTP bị dùng lại"),
    "step_up_ok": _l("Xác thực lại bằng OTP thành công"),
    "step_up_failed": _l("Xác thực lại bằng OTP thất bại"),
    "locked": _l("Khoá tài khoản tạm thời"),
    "password_changed": _l("Đổi mật khẩu"),
    "session_ended": _l("Kết thúc phiên đăng nhập"),
    "totp_enrolled": _l("Bật ứng dụng xác thực"),
    "totp_removed": _l("Tắt ứng dụng xác thực"),
    "permission_refused": _l("Từ chối quyền truy cập"),
    "forbidden": _l("Truy cập bị chặn"),
    "create_facility": _l("Tạo cơ sở"),
    "issue_account": _l("Cấp tài khoản"),
    "demo_password_reissued": _l("Cấp lại mật khẩu tài khoản demo"),
    "backup": _l("Sao lưu cơ sở dữ liệu"),
    "restore": _l("Khôi phục cơ sở dữ liệu"),
    **LIFECYCLE_LABELS,
    **{f"{verb}_{kind}": _approval(verb_label, kind_label)
       for verb, verb_label in APPROVAL_VERBS.items()
       for kind, kind_label in PENDING_KIND_LABELS.items()},
}

#: THE table: every action an audit row can carry, and its label
ACTIONS = {**CHANGES, **DATA, **SECURITY}


def action_label(action: str | None) -> str:
    """An action as the page names it (an unknown one, from older rows, by its key)."""
    label = ACTIONS.get(action or "")
    return str(label) if label is not None else (action or "")


def is_view(action: str | None) -> bool:
    return action in VIEWS


def action_choices(data: bool, security: bool) -> list[tuple[str, str]]:
    """(action, label) of the kinds a reader of the data and/or the security audit can
    meet: the changes first, then the others by label."""
    kinds = {}
    if data:
        kinds.update(DATA)
    if security:
        kinds.update(SECURITY)
    rest = sorted(((key, str(label)) for key, label in kinds.items()), key=lambda p: p[1])
    return [(key, str(label)) for key, label in CHANGES.items()] + rest


# -- entities --------------------------------------------------------------------------------

ENTITIES = {
    "recipient": _l("Đối tượng tiêm"),
    "dose": _l("Mũi tiêm"),
    "dose_lot": _l("Lô vắc xin"),
    "vaccine": _l("Vắc xin"),
    "priority_group": _l("Nhóm ưu tiên"),
    "duplicate_candidate": _l("Nghi trùng"),
    "recipient_merge": _l("Gộp hồ sơ"),
    "certificate": _l("Giấy chứng nhận tiêm chủng"),
    "revoked_certificate": _l("Giấy chứng nhận đã thu hồi"),
    "target_population": _l("Dân số đích"),
    "daily_report_confirmation": _l("Xác nhận số liệu ngày"),
    "facility": _l("Cơ sở"),
    "delegation": _l("Ủy quyền"),
    "account": _l("Tài khoản"),
    "custodian": _l("Người quản lý tài khoản"),
    "written_request": _l("Văn bản đề nghị"),
    "pending_action": _l("Thao tác chờ phê duyệt"),
    "export_job": _l("Xuất Excel"),
    "import_job": _l("Nhập Excel"),
    "database": _l("Cơ sở dữ liệu"),
}


def entity_label(entity: str | None) -> str:
    label = ENTITIES.get(entity or "")
    return str(label) if label is not None else (entity or "")


# -- fields ----------------------------------------------------------------------------------

#: columns many models share
COMMON_FIELDS = {
    "id": _l("Mã bản ghi"),
    "facility_id": _l("Cơ sở"),
    "account_id": _l("Tài khoản"),
    "created_at": _l("Thời điểm tạo"),
}

_REQUEST = {"ref_number": _l("Số văn bản đề nghị"), "request_ref": _l("Số văn bản đề nghị"),
            "ref_date": _l("Ngày văn bản"), "request_date": _l("Ngày văn bản"),
            "reason": _l("Lý do")}

#: each audited model's columns beyond the common ones (a recipient's: ``fields.RECIPIENT``)
FIELDS: dict[str, dict] = {
    "recipient": {
        "merged_into_id": _l("Đã gộp vào hồ sơ"),
        "uncoded": _l("Giá trị chưa mã hoá"),
    },
    "dose": {
        "recipient_id": _l("Đối tượng tiêm"),
        "vaccine_id": _l("Vắc xin"),
        "lot_number": _l("Số lô"),
        "dose_number": _l("Mũi số"),
        "given_on": _l("Ngày tiêm"),
        "vaccinator": _l("Người tiêm"),
        "aefi": _l("Phản ứng sau tiêm"),
        "aefi_note": _l("Ghi chú phản ứng"),
        "entry_token": _l("Mã lượt nhập"),
    },
    "dose_lot": {
        "lot_number": _l("Số lô"),
        "vaccine_id": _l("Vắc xin"),
        "expires_on": _l("Hạn dùng của lô"),
        "first_used_on": _l("Ngày dùng đầu tiên"),
        "last_used_on": _l("Ngày dùng gần nhất"),
    },
    "vaccine": {
        "code": _l("Mã vắc xin"),
        "name": _l("Tên vắc xin"),
        "manufacturer": _l("Nhà sản xuất"),
        "doses_in_series": _l("Số mũi cơ bản"),
        "min_interval_days": _l("Khoảng cách tối thiểu (ngày)"),
        "active": _l("Đang dùng"),
    },
    "priority_group": {
        "code": _l("Mã nhóm"),
        "label": _l("Tên nhóm"),
        "active": _l("Đang dùng"),
    },
    "duplicate_candidate": {
        "recipient_id": _l("Đối tượng tiêm"),
        "other_id": _l("Hồ sơ nghi trùng"),
        "status": _l("Trạng thái"),
        "resolved_at": _l("Thời điểm xử lý"),
        "resolved_by_id": _l("Người xử lý"),
    },
    "certificate": {
        "recipient_id": _l("Đối tượng tiêm"),
        "dose_id": _l("Mũi tiêm"),
        "uvci": _l("Mã định danh giấy chứng nhận (UVCI)"),
        "issued_by_id": _l("Người cấp"),
        "issued_at": _l("Thời điểm cấp"),
        "expires_at": _l("Hết hạn lúc"),
        "revoked_at": _l("Thời điểm thu hồi"),
        "revoked_reason": _l("Lý do thu hồi"),
    },
    "recipient_merge": {
        "candidate_id": _l("Cặp nghi trùng"),
        "kept_id": _l("Hồ sơ giữ lại"),
        "gone_id": _l("Hồ sơ đã gộp"),
        "choices": _l("Giá trị được chọn"),
        "kept_before": _l("Hồ sơ giữ lại trước khi gộp"),
        "gone_before": _l("Hồ sơ đã gộp trước khi gộp"),
        "moved_dose_ids": _l("Mũi tiêm đã chuyển"),
        "kept_version": _l("Phiên bản hồ sơ giữ lại"),
        "gone_version": _l("Phiên bản hồ sơ đã gộp"),
        "merged_at": _l("Thời điểm gộp"),
        "merged_by_id": _l("Người gộp"),
        "undone_at": _l("Thời điểm hoàn tác"),
        "undone_by_id": _l("Người hoàn tác"),
    },
    "revoked_certificate": {
        "uvci_hash": _l("Mã băm UVCI"),
        "revoked_at": _l("Thời điểm thu hồi"),
    },
    "target_population": {
        "period_start": _l("Từ ngày"),
        "period_end": _l("Đến ngày"),
        "priority_group": _l("Nhóm ưu tiên"),
        "age_band": _l("Nhóm tuổi"),
        "total": _l("Dân số đích"),
    },
    "daily_report_confirmation": {
        "day": _l("Ngày"),
        "confirmed_at": _l("Thời điểm xác nhận"),
        "totals": _l("Số liệu đã xác nhận"),
        "fingerprint": _l("Dấu vân tay các mũi tiêm của ngày"),
    },
    "facility": {
        "code": _l("Mã cơ sở"),
        "name": _l("Tên cơ sở"),
        "kind": _l("Loại cơ sở"),
        "parent_id": _l("Cơ sở cấp trên"),
        "path": _l("Vị trí trong cây cơ sở"),
    },
    "delegation": {
        "starts_on": _l("Từ ngày"),
        "ends_on": _l("Đến ngày"),
        **_REQUEST,
        "granted_by_id": _l("Người ủy quyền"),
        "ended_at": _l("Thời điểm kết thúc"),
    },
    "pending_action": {
        "kind": _l("Loại thao tác"),
        "params": _l("Nội dung đề nghị"),
        **_REQUEST,
        "requested_by_id": _l("Người đề nghị"),
        "requested_at": _l("Thời điểm đề nghị"),
        "status": _l("Trạng thái"),
        "decided_by_id": _l("Người quyết định"),
        "decided_at": _l("Thời điểm quyết định"),
    },
    "account": {
        "username": _l("Tên đăng nhập"),
        "role": _l("Vai trò"),
        "phone": _l("Số điện thoại đăng ký"),
        "status": _l("Trạng thái"),
        "password_hash": _l("Mật khẩu"),
        "must_change_password": _l("Phải đổi mật khẩu"),
        "initial_password_expires_at": _l("Mật khẩu ban đầu hết hạn lúc"),
        "phone_verified_at": _l("Xác minh số điện thoại lúc"),
        "totp_secret": _l("Khoá ứng dụng xác thực"),
        "totp_last_step": _l("Bước mã ứng dụng xác thực gần nhất"),
        "failed_password_count": _l("Số lần sai mật khẩu"),
        "failed_code_count": _l("Số lần sai mã OTP"),
        "locked_until": _l("Khoá đến"),
        "lock_count": _l("Số lần bị khoá"),
        "revoked_at": _l("Thời điểm thu hồi"),
    },
    "custodian": {
        "full_name": _l("Họ và tên"),
        "gender": _l("Giới tính"),
        "unit": _l("Đơn vị"),
        "position": _l("Chức vụ"),
        "email": _l("Thư điện tử"),
        "phone": _l("Số điện thoại"),
        "from_at": _l("Bắt đầu quản lý"),
        "to_at": _l("Kết thúc quản lý"),
    },
    "written_request": {
        "action": _l("Thao tác"),
        **_REQUEST,
        "actor_id": _l("Người thực hiện"),
    },
}

#: the keys of access and account events' details (``audit.record(..., details=...)``)
DETAILS = {
    **_REQUEST,
    "recipient_id": _l("Đối tượng tiêm"),
    "dose_id": _l("Mũi tiêm"),
    "found": _l("Hồ sơ tìm thấy"),
    "via": _l("Qua"),
    "merged_id": _l("Hồ sơ đã gộp"),
    "doses_moved": _l("Mũi tiêm đã chuyển"),
    "doses_moved_back": _l("Mũi tiêm đã chuyển lại"),
    "candidate_id": _l("Cặp nghi trùng"),
    "choices": _l("Giá trị được chọn"),
    "changed": _l("Các trường thay đổi"),
    "restored": _l("Các trường khôi phục"),
    "merge_id": _l("Lượt gộp"),
    "purpose": _l("Mục đích"),
    "outcome": _l("Kết quả"),
    "after": _l("Sau khi sai"),
    "until": _l("Khoá đến"),
    "minutes": _l("Số phút"),
    "lock_count": _l("Số lần bị khoá"),
    "browser": _l("Trình duyệt"),
    "count": _l("Số lượng"),
    "table": _l("Bảng"),
    "export_id": _l("Mã lượt xuất"),
    "session_ids": _l("Các phiên đăng nhập"),
    "sessions_ended": _l("Số phiên đã kết thúc"),
    "other_sessions_ended": _l("Số phiên khác đã kết thúc"),
    "permission": _l("Quyền"),
    "endpoint": _l("Trang"),
    "username": _l("Tên đăng nhập"),
    "role": _l("Vai trò"),
    "code": _l("Mã cơ sở"),
    "parent": _l("Cơ sở cấp trên"),
    "custodian_id": _l("Người quản lý tài khoản"),
    "previous_custodian_id": _l("Người quản lý trước"),
    "phone_changed": _l("Đổi số điện thoại"),
    "fields": _l("Các trường thay đổi"),
    "delegation_id": _l("Ủy quyền"),
    "delegated_facility_id": _l("Cơ sở được ủy quyền"),
    "starts_on": _l("Từ ngày"),
    "ends_on": _l("Đến ngày"),
    "pending_id": _l("Thao tác chờ phê duyệt"),
    "kind": _l("Loại thao tác"),
    "account_id": _l("Tài khoản"),
    "requested_by_id": _l("Người đề nghị"),
    "ref": _l("Mã lượt"),
    "filter": _l("Điều kiện lọc"),
    "description": _l("Mô tả"),
    "row_count": _l("Số dòng"),
    "rows": _l("Số dòng đã ghi"),
    "now": _l("Số dòng hiện nay"),
    "columns": _l("Các cột"),
    "masked": _l("Che thông tin định danh"),
    "sheets": _l("Số trang tính"),
    "progress": _l("Tiến độ"),
    "error": _l("Lỗi"),
    "sha256": _l("Mã băm SHA-256 của tệp"),
    "size": _l("Kích thước tệp (byte)"),
    "total_rows": _l("Tổng số dòng"),
    "valid_rows": _l("Số dòng hợp lệ"),
    "created": _l("Số hồ sơ đã tạo"),
    "skipped": _l("Số dòng bỏ qua"),
    "processed": _l("Số dòng đã xử lý"),
    "error_rows": _l("Số dòng lỗi"),
    "duplicate_rows": _l("Số dòng trùng"),
    "outside_scope_ids": _l("Hồ sơ ngoài phạm vi"),
    "file": _l("Tệp"),
    "bytes": _l("Kích thước tệp (byte)"),
    "backup_at": _l("Thời điểm sao lưu"),
    "audit_count": _l("Số bản ghi nhật ký"),
    "audit_last_id": _l("Bản ghi nhật ký cuối"),
    "audit_last_hash": _l("Mã băm bản ghi nhật ký cuối"),
    "kept": _l("Bản cũ giữ lại"),
}


def field_label(entity: str | None, key: str) -> str:
    """An audited column as the page names it: the model's own label, a recipient's field as
    the register's form names it, a column many models share; else its key."""
    label = FIELDS.get(entity or "", {}).get(key)
    if label is None and entity == "recipient" and key in fields.FIELD_KEYS:
        label = fields.spec(key).label
    if label is None:
        label = COMMON_FIELDS.get(key)
    return str(label) if label is not None else key


def has_field_label(entity: str, key: str) -> bool:
    return field_label(entity, key) != key


def detail_label(key: str) -> str:
    label = DETAILS.get(key)
    return str(label) if label is not None else key
