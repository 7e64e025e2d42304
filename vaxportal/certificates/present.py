"""How an outcome reads, for the page and the CLI."""

from flask_babel import lazy_gettext as _l

from vaxportal.certificates.hcert import Outcome

OUTCOME_LABELS = {
    Outcome.valid: _l("Hợp lệ"),
    Outcome.unreadable: _l("Không đọc được: đây không phải chứng nhận HC1 hợp lệ"),
    Outcome.invalid_signature: _l("Chữ ký không hợp lệ (invalid signature)"),
    Outcome.unknown_key: _l("Khoá ký không có trong danh sách tin cậy"),
    Outcome.expired: _l("Đã hết hạn"),
    Outcome.revoked: _l("Đã bị thu hồi (revoked)"),
}

#: labels of the printed certificate, always in both languages (Vietnamese, then English)
PRINT_LABELS = {
    "title": _l("Chứng nhận tiêm chủng COVID-19"),
    "name": _l("Họ và tên"),
    "dob": _l("Ngày sinh"),
    "vaccine": _l("Vắc xin"),
    "dose": _l("Mũi tiêm"),
    "given_on": _l("Ngày tiêm"),
    "country": _l("Quốc gia tiêm"),
    "issued_at": _l("Ngày cấp"),
    "expires_at": _l("Hiệu lực đến"),
    "issuer": _l("Đơn vị cấp"),
    "uvci": _l("Mã chứng nhận (UVCI)"),
    "note": _l("Quét mã QR bằng ứng dụng kiểm tra chứng nhận EU DCC hoặc tại trang /verify."),
}


def both(key: str) -> tuple[str, str]:
    """A printed label in Vietnamese and in English, whatever the page's language."""
    from flask_babel import force_locale

    label = PRINT_LABELS[key]
    with force_locale("vi"):
        vi = str(label)
    with force_locale("en"):
        en = str(label)
    return vi, en
