"""Browser journey of the district supervisor on the duplicates queue (issue 15): the pair
compared field by field, the second record's phone chosen, the merge behind the step-up OTP
(P3.4), then undone. JavaScript on and off, axe on every page through the ``ui`` fixture."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import selectinload

from tests.helpers import PASSWORD, add_dose, add_person
from vaxportal.auth.models import UserSession
from vaxportal.extensions import db
from vaxportal.recipients.models import DuplicateCandidate, Recipient
from vaxportal.timeutil import utcnow


def _no_longer_fresh(account_id: int) -> None:
    db.session.remove()
    row = db.session.scalar(sa.select(UserSession).where(UserSession.account_id == account_id)
                            .order_by(UserSession.id.desc()))
    row.step_up_at = utcnow() - timedelta(minutes=10)
    db.session.commit()


def test_supervisor_merges_a_pair_field_by_field_and_undoes_it(ui, place, factory):
    old = add_person(place["s1"], "Lê Văn Trùng", "089080111001")
    new = add_person(place["s1b"], "LE VAN TRUNG", "089080111002")
    old.phone, new.phone = "+84912000111", "+84987000222"
    db.session.commit()
    add_dose(old, "AZ")
    add_dose(new, "AZ", number=2, lot="AZ-2")
    candidate = DuplicateCandidate(recipient_id=new.id, other_id=old.id,
                                   facility_id=new.facility_id)
    db.session.add(candidate)
    db.session.commit()
    ids = {"old": old.id, "new": new.id, "pair": candidate.id}
    supervisor = factory.account("supervisor", facility=place["d1"])
    supervisor_id = supervisor.id
    ui.sign_in(supervisor.username, PASSWORD)
    page = ui.page

    ui.goto("/recipients/duplicates")
    ui.check()
    with page.expect_navigation():
        page.get_by_role("link", name="So sánh từng thông tin và gộp").click()
    expect(page.locator("h1")).to_have_text("So sánh hồ sơ nghi trùng")
    ui.check()

    # the newer record's phone, the older record kept; the merge asks for a code
    page.check(f"input[name=pick_phone][value='{ids['new']}']")
    _no_longer_fresh(supervisor_id)
    before = len(ui.outbox())
    ui.submit()
    expect(page.locator("main")).to_contain_text("Xác thực lại bằng mã OTP")
    ui.check()
    page.fill("input[name=stepup_code]", ui.code_since(before, kinds=("step_up",)))
    ui.submit()
    ui.arrive(f"/recipients/duplicates/{ids['pair']}")
    expect(page.locator("main")).to_contain_text("Đã gộp hồ sơ; 1 mũi tiêm")
    ui.check()
    db.session.expire_all()
    kept, gone = (db.session.get(Recipient, ids[key], options=[selectinload(Recipient.doses)],
                                 populate_existing=True) for key in ("old", "new"))
    assert kept.phone == "+84987000222" and gone.merged_into_id == kept.id
    assert len(kept.doses) == 2

    # undone (the code just typed is still fresh)
    ui.submit("main form button.btn-danger")
    ui.arrive(f"/recipients/duplicates/{ids['pair']}")
    expect(page.locator("main")).to_contain_text("Đã hoàn tác việc gộp")
    ui.check()
    db.session.expire_all()
    assert db.session.get(Recipient, ids["old"]).phone == "+84912000111"
    assert db.session.get(Recipient, ids["new"]).merged_into_id is None
    assert not ui.unexpected_errors()
