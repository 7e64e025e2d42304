"""Issue a certificate from a recipient's page, print it, and serve the revocation list."""

from __future__ import annotations

import functools

import segno
import sqlalchemy as sa
from flask import abort, current_app, flash, jsonify, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from vaxportal import htmx, policy, renderguard
from vaxportal.auth.current import current_account
from vaxportal.certificates import bp, keys, services
from vaxportal.certificates.forms import IssueForm
from vaxportal.certificates.models import Certificate
from vaxportal.extensions import db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients.models import Recipient


@bp.post("/recipients/<int:recipient_id>/issue")
@permission_required(Perm.issue_certificates)
def issue(recipient_id: int):
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True)
    if not IssueForm().validate():
        abort(400)
    back = url_for("recipients.show", recipient_id=recipient.id)
    try:
        certificate = services.issue(recipient, current_account())
    except services.NotIssuable:
        flash(_("Chưa thể cấp chứng nhận: đối tượng chưa có mũi tiêm của vắc xin có mã "
                "trong danh mục chứng nhận."), "warning")
        return htmx.redirect_to(back)
    except keys.SigningKeyMissing:
        current_app.logger.error("certificate signing key is not configured")
        flash(_("Chưa cấu hình khoá ký chứng nhận. Vui lòng báo quản trị hệ thống."), "error")
        return htmx.redirect_to(back)
    db.session.commit()
    flash(_("Đã cấp chứng nhận tiêm chủng."), "success")
    return htmx.redirect_to(url_for("certificates.show", certificate_id=certificate.id))


@bp.get("/<int:certificate_id>")
@permission_required(Perm.issue_certificates)
def show(certificate_id: int):
    """The printable certificate (A5, black and white, Vietnamese and English)."""
    certificate = policy.get_in_scope_or_404(Certificate, certificate_id, write=True)
    shown = services.check(certificate.hc1)
    return render_template("certificates/print.html", certificate=certificate, shown=shown,
                           qr=qr_svg(certificate.hc1))


@bp.get("/revoked")
def revoked():
    """The revocation list for verifiers: SHA-256 of each revoked UVCI, nothing else."""
    return jsonify({"hashType": "UCI", "algorithm": "SHA-256",
                    "hashes": services.revoked_hashes()})


@functools.lru_cache(maxsize=32)
def qr_svg(text: str) -> Markup:
    """The QR as inline SVG (CSP allows no data: URLs), error correction Q as the DCC
    guidelines ask, sized by CSS. A certificate's signed text never changes, and encoding it
    (the best of eight masks, in Python) takes about 0.1 s: the last few are kept for a
    reprint or a page shown again."""
    code = segno.make(text, error="q", micro=False, boost_error=False)
    svg = code.svg_inline(scale=1, border=4, omitsize=True, svgclass="qr-code", title=None)
    return Markup(svg)  # noqa: S704  (segno's SVG of our own signed text)


def recipient_certificates(recipient: Recipient) -> list[Certificate]:
    """The certificates issued for a recipient, newest first (shown on the record). A
    template global: the record's page asks for it while it renders, on purpose (the
    recipients domain knows nothing of certificates), one statement per page."""
    with renderguard.permitted():
        return list(db.session.scalars(
            sa.select(Certificate).where(Certificate.recipient_id == recipient.id)
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())))
