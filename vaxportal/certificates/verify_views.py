"""``/verify``: anyone, without signing in, checks a certificate (pasted text or a photo of
its QR). Shows only name, birth date and doses; nothing about the check is recorded."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext as _

from vaxportal.certificates import qrimage, services, verify_bp
from vaxportal.certificates.forms import VerifyForm
from vaxportal.extensions import limiter


def _verify_limit() -> str:
    return current_app.config["CERT_VERIFY_RATE_LIMIT"]


@verify_bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(_verify_limit, methods=["POST"])
def verify():
    form = VerifyForm()
    shown = None
    if form.validate_on_submit():
        text = (form.hc1.data or "").strip()
        if form.photo.data:
            text = qrimage.read_hc1(form.photo.data.stream) or ""
            if not text:
                form.photo.errors.append(_("Không tìm thấy mã QR chứng nhận trong ảnh."))
        elif not text:
            form.hc1.errors.append(_("Vui lòng dán nội dung mã QR hoặc tải lên ảnh."))
        if text:
            shown = services.check(text)
    return render_template("certificates/verify.html", form=form, shown=shown)
