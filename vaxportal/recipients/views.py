"""The register: search, register a recipient, the recipient's page and its edits."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from vaxportal import gender, htmx, policy, validators
from vaxportal.audit import events
from vaxportal.auth import sessions, throttle
from vaxportal.auth.current import current_account
from vaxportal.auth.stepup import fresh_otp_required
from vaxportal.extensions import commit_keeping_loaded, db
from vaxportal.policy import Perm, permission_required
from vaxportal.recipients import bp, helpers
from vaxportal.recipients.dosing import (
    new_dose_form,
    recipient_changing,
    saved_dose,
    saved_notice,
)
from vaxportal.recipients.duplicate_checks import (
    duplicate_checks,
    lookup_offer,
    registered_id,
    search_lookup_offer,
)
from vaxportal.recipients.forms import (
    DETAIL_FIELDS,
    IDENTITY_FORM_FIELDS,
    DetailsForm,
    IdentityForm,
    RecipientForm,
    SearchForm,
    as_choices,
)
from vaxportal.recipients.models import Dose, Recipient
from vaxportal.recipients.search import (
    RegisterFilter,
    get_search,
    register_page,
    search_choices,
    store_search,
)
from vaxportal.recipients.services import (
    FIELD_KEYS,
    clean_fields,
    find_by_national_id,
    register_recipient,
)
from vaxportal.timeutil import format_date


@bp.context_processor
def _template_helpers():
    return helpers.template_helpers()


# -- the register and its search -----------------------------------------------------------


@bp.get("/")
@permission_required(Perm.read_recipients)
def index():
    sid = request.args.get("s")
    if get_search(sid, current_account()) is None:
        sid = None
    register_filter = RegisterFilter.load(sid, current_account())
    saved = saved_dose(request.args.get("saved", type=validators.db_id))
    return _register(register_filter, sid, request.args.get("page", 1, type=validators.page_number),
                     saved=saved)


@bp.post("/")
@permission_required(Perm.read_recipients)
def search():
    """The search box POSTs (terms never in a URL); the answer links to ``?s=<random id>``.
    One commit, after the answer is rendered (a commit in between would expire the
    signed-in account and cost a round trip to read it again), and only when the search
    was stored now: a search already stored writes nothing (the session row's touch, if
    due, is committed after the request: ``sessions.commit_written``)."""
    # its drop-downs accept any id (validate_choice=False): no choices; the request's CSRF
    # token was checked before the view (CSRFProtect), and this form's answer is not a
    # verdict (its values are only cleaned), so it does not check the token again
    form = SearchForm(meta={"csrf": False})
    form.validate()
    register_filter = RegisterFilter(q=(form.q.data or "")[:200],
                                     facility_id=form.facility_id.data,
                                     vaccine_id=form.vaccine_id.data)
    session_row = sessions.current()
    sid, written = store_search(register_filter, current_account(),
                                session_row and session_row.id)
    url = url_for("recipients.index", s=sid)
    if htmx.is_htmx():
        response = htmx.replace_url(_register(register_filter, sid, 1, oob=True), url)
    else:
        response = htmx.redirect_to(url)
    if written:
        db.session.commit()
    return response


def _search_form(**data) -> SearchForm:
    form = SearchForm(**data)
    facilities, vaccines = search_choices(current_account())
    form.facility_id.choices = as_choices([("", _("Tất cả cơ sở"))] + facilities)
    form.vaccine_id.choices = as_choices([("", _("Mọi vắc xin"))] + vaccines)
    form.show_facilities = len(facilities) > 1
    return form


def _register(register_filter: RegisterFilter, sid: str | None, page_number: int,
              oob: bool = False, saved: Dose | None = None):
    page = register_page(register_filter, current_account(), page_number,
                         int(current_app.config["PAGE_SIZE"]))
    # the fragment (htmx) has no search box: only the whole page builds one
    form = None if htmx.is_htmx() else _search_form(
        formdata=None, q=register_filter.q, s=sid, facility_id=register_filter.facility_id,
        vaccine_id=register_filter.vaccine_id)
    export_url = None
    if "exports.new" in current_app.view_functions and policy.has_perm(
        current_account(), Perm.export_recipients
    ):
        export_url = url_for("exports.new", s=sid)
    term = register_filter.term
    id_not_in_scope = term.kind == "national_id" and not page.total
    offer = search_lookup_offer(term.value) if id_not_in_scope else None
    texts = _results_texts(str(get_locale()))
    _shown_rows(page.rows, sid, texts["genders"])
    return htmx.render(
        "recipients/index.html", "recipients/_results.html", form=form, hits=page, sid=sid,
        term=term, export_url=export_url, oob=oob, id_not_in_scope=id_not_in_scope,
        offer=offer, saved=saved, notice=saved and saved_notice(saved),
        texts=texts,
    )


def _shown_rows(rows: list[dict], sid: str | None, genders: dict[str, str]) -> None:
    """Each row's cells as the results table shows them, written here once per row: its
    links, its birth date, its gender's word, its identifiers as the account may see them
    (``policy.shown_identifier``, P1). Through the template's filters and helpers a page of
    25 rows built 50 URLs and asked the account's rights 75 times."""
    account = current_account()
    show = _url_with_id("recipients.show")
    dose = (_url_with_id("recipients.dose_new", s=sid)
            if policy.has_perm(account, Perm.record_doses) else None)
    for row in rows:
        word = genders.get(row["gender"])
        row.update(
            url=show(row["id"]), born=format_date(row["date_of_birth"]),
            gender_word=helpers.display("gender", row["gender"]) if word is None else word,
            national_id_shown=policy.shown_identifier(row["national_id"], account),
            phone_shown=policy.shown_identifier(row["phone"], account),
            dose_url=dose(row["id"]) if dose else None,
        )


#: an id no row has, written where a row's id goes (``_url_with_id``)
_ID_MARK = validators.MAX_ID


def _url_with_id(endpoint: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, recipient_id=n, **values)`` for many ``n``: built once with a
    mark in the id's place, which each call replaces (Werkzeug's builder costs tens of
    microseconds a call)."""
    head, _mark, tail = url_for(endpoint, recipient_id=_ID_MARK, **values).partition(
        str(_ID_MARK))
    return lambda recipient_id: f"{head}{int(recipient_id)}{tail}"


@functools.lru_cache(maxsize=8)
def _results_texts(locale: str) -> dict:
    """The results table's fixed texts in ``locale``, translated once per process."""
    return {
        "headings": [_("Họ và tên"), _("Ngày sinh"), _("Giới tính"), _("Số CCCD/CMND"),
                     _("Số điện thoại"), _("Cơ sở"), _("Số mũi"), {"sr": _("Thao tác")}],
        "record_dose": _("Ghi mũi tiêm"), "export": _("Xuất Excel"),
        "genders": {code: helpers.display("gender", code) for code in gender.LABELS},
    }


# -- registering a recipient ---------------------------------------------------------------


def _recipient_form() -> RecipientForm:
    form = RecipientForm()
    choices = helpers.facility_choices(write=True)
    form.facility_id.choices = as_choices(choices)
    ids = [fid for fid, _name in choices]
    if len(ids) == 1 or (not form.is_submitted() and current_account().facility_id in ids):
        form.facility_id.data = ids[0] if len(ids) == 1 else current_account().facility_id
    return form


def _register_throttled():
    """Too many registrations by this account for now: the form comes back as typed, with
    the reason, and nothing is looked up (P1)."""
    form = _recipient_form()
    form.form_errors.append(_("Tài khoản đã đăng ký quá nhiều lượt trong thời gian ngắn. "
                              "Những gì bạn đã nhập vẫn còn; vui lòng đợi một lúc rồi gửi lại."))
    response = htmx.render("recipients/new.html", "recipients/_form.html", status=429,
                           form=form, fields=FIELD_KEYS, existing=None, duplicates=[], offer=None)
    return htmx.retarget(response, "#recipient-form") if htmx.is_htmx() else response


def _picks_province() -> bool:
    """The no-JavaScript "choose province" button asks for the communes of another province.
    It stands first in the form, so Enter in any field presses it too: with the province the
    communes were listed for, it is the form's ordinary submission."""
    return bool(request.form.get("pick_province")) and (
        request.form.get("province", "") != request.form.get("province_shown", ""))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Perm.write_recipients)
@throttle.limited_or(throttle.register_limits, _register_throttled)
def new():
    form = _recipient_form()
    context = {"existing": None, "duplicates": [], "offer": None}
    if form.is_submitted() and _picks_province():
        # without JavaScript: the communes of the chosen province, all typed values kept
        return htmx.render("recipients/new.html", "recipients/_form.html", form=form,
                           fields=FIELD_KEYS, focus="ward", **context)
    if form.validate_on_submit():
        clean = clean_fields(form)
        context = duplicate_checks(form, clean)
        if form.national_id.errors:
            db.session.commit()  # the access event of showing another facility's record
        elif not context["duplicates"] or form.confirm_duplicate.data:
            recipient = register_recipient(clean, form.facility_id.data)
            db.session.commit()
            flash(_("Đã đăng ký đối tượng %(name)s.", name=recipient.full_name), "success")
            return htmx.redirect_to(url_for("recipients.show", recipient_id=recipient.id))
    return htmx.render("recipients/new.html", "recipients/_form.html", form=form,
                       fields=FIELD_KEYS, **context)


@bp.post("/new/validate/<name>")
@permission_required(Perm.write_recipients)
@throttle.limited(throttle.field_check_limits)
def validate_field(name: str):
    """One field checked as it is left (htmx): the field's message alone, for its slot, so
    that the answer never replaces the input the user may be typing in again; out of band
    for the national ID the record already holding it and the look-up offer, for the
    province the ward field with its communes (``recipients/_field_check.html``)."""
    if name not in FIELD_KEYS:
        abort(404)
    form = _recipient_form()
    form.validate()
    existing = None
    if name == "province":
        form.ward.errors = []  # the commune list follows; its choice is still to be made
    if name == "national_id" and form.national_id.data and not form.national_id.errors:
        existing = registered_id(form, form.national_id.data)
        db.session.commit()
    return render_template("recipients/_field_check.html", form=form, name=name,
                           existing=existing, offer=lookup_offer(existing))


# -- the recipient's page ----------------------------------------------------------------


@bp.get("/<int:recipient_id>")
@permission_required(Perm.read_recipients)
def show(recipient_id: int):
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id,
                                            options=helpers.WITH_DOSES)
    events.record("view_identity", category="access", entity="recipient",
                  entity_id=recipient.id, facility_id=recipient.facility_id)
    commit_keeping_loaded()  # recorded before anything is shown; nothing read again
    writable = policy.scope().writable
    can_write = writable.contains(recipient.facility_id)
    dose_form = None
    if can_write and policy.has_perm(current_account(), Perm.record_doses):
        dose_form = new_dose_form(recipient, recipient.facility_id)
    history_url = None
    if "audit.index" in current_app.view_functions and policy.has_perm(
        current_account(), Perm.read_data_audit
    ):
        history_url = url_for("audit.index", entity="recipient", entity_id=recipient.id)
    return render_template(
        "recipients/show.html", recipient=recipient, can_write=can_write, dose_form=dose_form,
        history_url=history_url,
        writable_dose=writable.contains_many(dose.facility_id for dose in recipient.doses),
    )


@bp.route("/<int:recipient_id>/edit", methods=["GET", "POST"])
@permission_required(Perm.write_recipients)
def edit(recipient_id: int):
    """Fields outside the identity: edited freely within the write scope."""
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True,
                                            options=helpers.WITH_DOSES)
    form = DetailsForm(obj=recipient)
    if form.validate_on_submit():
        return _save(recipient, form, DETAIL_FIELDS, "recipients.edit")
    return render_template("recipients/edit.html", recipient=recipient, form=form,
                           fields=DETAIL_FIELDS, identity=False)


@bp.get("/<int:recipient_id>/identity")
@permission_required(Perm.write_recipients)
def edit_identity(recipient_id: int):
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True,
                                            options=helpers.WITH_DOSES)
    form = IdentityForm(obj=recipient)
    return render_template("recipients/edit.html", recipient=recipient, form=form,
                           fields=IDENTITY_FORM_FIELDS, identity=True)


@bp.post("/<int:recipient_id>/identity")
@permission_required(Perm.write_recipients)
@fresh_otp_required(load=policy.scope_loader(Recipient, "recipient_id", write=True))
def save_identity(recipient_id: int):
    """Identity fields change only after a fresh OTP (P3.4); the typed values survive the
    prompt (it re-posts them here)."""
    recipient = policy.get_in_scope_or_404(Recipient, recipient_id, write=True,
                                            options=helpers.WITH_DOSES)
    form = IdentityForm()
    if _picks_province():  # without JavaScript: the province's communes
        return render_template("recipients/edit.html", recipient=recipient, form=form,
                               fields=IDENTITY_FORM_FIELDS, identity=True)
    if form.validate():
        other = find_by_national_id(form.national_id.data)
        if other is None or other.id == recipient.id:
            return _save(recipient, form, IDENTITY_FORM_FIELDS, "recipients.save_identity")
        form.national_id.errors.append(_("Số CCCD/CMND này đã thuộc một đối tượng khác."))
    return render_template("recipients/edit.html", recipient=recipient, form=form,
                           fields=IDENTITY_FORM_FIELDS, identity=True)


def _save(recipient: Recipient, form, fields, action: str):
    """Optimistic locking: the form carries the version it was loaded with; a stale save
    shows both values side by side and keeps what was typed."""
    if helpers.is_stale(recipient, form):
        return _conflict(recipient, form, fields, action)
    values = clean_fields(form, fields)
    changed = {key for key, value in values.items() if getattr(recipient, key) != value}
    for key, value in values.items():
        setattr(recipient, key, value)
    if changed:
        recipient_changing.send(recipient, fields=changed)
    if not helpers.commit_or_stale():
        return _conflict(db.session.get(Recipient, recipient.id), form, fields, action)
    flash(_("Đã lưu thay đổi."), "success")
    return htmx.redirect_to(url_for("recipients.show", recipient_id=recipient.id))


def _conflict(recipient: Recipient, form, fields, action: str):
    rows = helpers.conflict_rows(form, recipient, fields)
    form.version_id.data = str(recipient.version_id)
    return htmx.whole_page(render_template(
        "recipients/conflict.html", recipient=recipient, form=form, fields=fields, rows=rows,
        action=url_for(action, recipient_id=recipient.id),
    ), 409)
