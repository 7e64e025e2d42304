"""Journey: an admin issues a facility's account, hands it over and revokes it (P4.1-P4.3c).

The admin signs in through the real pages, finds the station in the facility tree (with
JavaScript the filter answers as you type, through htmx), issues the account (a mistyped
email refused first, the typed values kept), hands it over to a new custodian and revokes it,
each on a written request (number, date, reason). The revocation comes after the admin's
step-up window has passed, so it goes through the admin's own OTP prompt (P3.4). Finally the
revoked account's right password gets the plain revoked message.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import selectinload

from tests.helpers import PASSWORD, RECENT, RECENT_DATE, approve_pending, initial_password
from vaxportal.auth.models import Account, AccountStatus, UserSession, WrittenRequest
from vaxportal.extensions import db
from vaxportal.timeutil import utcnow

ADMIN = "admin.cntt"
USERNAME = "tyt.mybinh"
STATION = "Trạm Y tế Mỹ Bình"


@pytest.fixture
def province(factory):
    """MIN (ministry IT, the admin's unit) → DOH → D1 → S1 (the station, 4th level)."""
    made = factory.tree(row for row in factory.PROVINCE if row[0] in ("min", "doh", "d1", "s1"))
    admin = factory.account("admin", facility=made["min"], username=ADMIN, phone="+84901000111",
                            full_name="Lê Minh Quản")
    return {"station": made["s1"].id, "admin": admin.id}


def account_named(username: str) -> Account | None:
    db.session.remove()
    return db.session.scalar(sa.select(Account).where(Account.username == username))


def written(account_id: int) -> list[tuple]:
    return [(w.action, w.ref_number, w.ref_date, w.reason, w.actor_id)
            for w in db.session.scalars(sa.select(WrittenRequest)
                                        .where(WrittenRequest.account_id == account_id)
                                        .order_by(WrittenRequest.id))]


def step_up_window_passed(admin_id: int) -> None:
    """Ten minutes later: the admin's OTP at sign-in no longer counts for a sensitive action."""
    db.session.remove()
    db.session.execute(sa.update(UserSession).where(UserSession.account_id == admin_id)
                       .values(step_up_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()


def focused(ui, name: str) -> None:
    expect(ui.page.locator(f"main [name={name}]")).to_be_focused()


def filter_tree(ui, text: str) -> None:
    """Type into the tree's filter: htmx swaps the tree in place (JS), or Enter sends the
    GET form (no JS)."""
    page = ui.page
    page.locator("#q").focus()
    if ui.js:
        page.evaluate("window.vxSamePage = true")
        with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"
                                  and parse_qs(urlsplit(r.url).query).get("q") == [text]):
            page.keyboard.type(text)
        ui.settle()
        assert page.evaluate("window.vxSamePage === true")  # swapped, not reloaded
        page.wait_for_url(lambda url: "q=" in url)  # hx-push-url: the address can be shared
    else:
        page.keyboard.type(text)
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert "q=" in page.url


def fill_custodian(page, full_name: str, gender: str, position: str, email: str,
                   phone: str) -> None:
    page.keyboard.type(full_name)  # the first field has the focus
    page.select_option("main [name=gender]", gender)
    page.fill("main [name=unit]", STATION)
    page.fill("main [name=position]", position)
    page.fill("main [name=email]", email)
    page.fill("main [name=custodian_phone]", phone)


def fill_request(ui, number: str, day: str, reason: str) -> None:
    """The written request, by keyboard: number, Tab, date, Tab, reason, Tab to the button."""
    page = ui.page
    page.locator("main [name=ref_number]").focus()
    page.keyboard.type(number)
    page.keyboard.press("Tab")
    focused(ui, "ref_date")
    page.keyboard.type(day)
    page.keyboard.press("Tab")
    focused(ui, "reason")
    page.keyboard.type(reason)
    page.keyboard.press("Tab")
    expect(page.locator("main form.form button[type=submit]")).to_be_focused()


def test_p4_1_p4_2_p4_3a_admin_issues_hands_over_and_revokes_an_account(ui, app, province,
                                                                         outbox):
    page = ui.page
    ui.sign_in(ADMIN, PASSWORD, check=True)
    expect(page.locator("h1")).to_have_text("Xin chào, Lê Minh Quản")
    ui.check(screenshot="admin-home")

    # -- the facility tree: the station is on the 4th level, found by the filter ---------------
    page.get_by_role("link", name="Cơ sở và tài khoản").first.click()
    ui.arrive("/facilities/")
    expect(page.locator("h1")).to_have_text("Cơ sở và tài khoản")
    expect(page.locator("#facility-tree")).not_to_contain_text(STATION)
    ui.check(screenshot="admin-facilities")
    filter_tree(ui, "Mỹ Bình")
    row = page.locator("#facility-tree tr", has_text=STATION)
    expect(row).to_contain_text("Chưa có tài khoản")
    expect(page.locator("#facility-tree tbody tr")).to_have_count(1)
    ui.check()
    row.get_by_role("link", name="Cấp tài khoản").click()

    # -- issue (P4.1, P3.2, P3.3): a mistyped email first, then the right one ---------------
    ui.arrive(f"/facilities/{province['station']}/accounts/new")
    expect(page.locator("h1")).to_have_text(f"Cấp tài khoản cho {STATION}")
    expect(page.locator("main [name=unit]")).to_have_value(STATION)
    ui.check(screenshot="admin-issue-account")
    focused(ui, "username")
    page.keyboard.type(USERNAME)
    page.select_option("main [name=role]", "data_entry")
    page.fill("main [name=phone]", "0912 345 678")
    page.locator("main [name=full_name]").focus()
    fill_custodian(page, "Trần Thị Giao", "female", "Cán bộ tiêm chủng", "giao.tt@",
                   "0913 111 222")
    page.locator("main [name=custodian_phone]").focus()
    ui.press("Enter")
    expect(page.locator("#email-error")).to_have_text("Địa chỉ email không hợp lệ.")
    expect(page.locator("main [name=username]")).to_have_value(USERNAME)  # nothing lost
    expect(page.locator("main [name=full_name]")).to_have_value("Trần Thị Giao")
    assert account_named(USERNAME) is None
    ui.check(screenshot="admin-issue-account-error")
    focused(ui, "email")  # the first field in error
    page.keyboard.press("Control+A")
    page.keyboard.type("giao.tt@example.vn")
    before = len(outbox())
    ui.press("Enter")

    # the issue waits for a second administrator's approval (P2.1): no account, no password
    ui.arrive(f"/facilities/{province['station']}")
    expect(page.locator("#flashes")).to_contain_text(
        f"Đã gửi yêu cầu cấp tài khoản {USERNAME}. Tài khoản chỉ được cấp khi một quản trị viên "
        "khác phê duyệt.")
    assert account_named(USERNAME) is None and outbox()[before:] == []
    approve_pending(app)
    account = account_named(USERNAME)
    assert account is not None
    account_id = account.id
    ui.goto(f"/facilities/accounts/{account_id}")
    ui.arrive(f"/facilities/accounts/{account_id}")
    expect(page.locator("h1")).to_contain_text("Chờ kích hoạt")
    expect(page.locator("main")).to_contain_text("+84912345678")
    assert (account.status, account.facility_id, account.role, account.phone) == (
        AccountStatus.pending, province["station"], "data_entry", "+84912345678")
    custodian = account.current_custodian
    assert (custodian.full_name, custodian.gender, custodian.position, custodian.email,
            custodian.phone) == ("Trần Thị Giao", "female", "Cán bộ tiêm chủng",
                                 "giao.tt@example.vn", "+84913111222")
    (sms,) = [m for m in outbox()[before:] if m["kind"] == "initial_password"]
    assert sms["to"] == "+84912345678"
    assert sms["secret"] not in page.content()  # the admin never sees the initial password
    ui.check(screenshot="admin-account")

    # -- hand over to a new custodian, on a written request (P4.3a, P4.2) ------------------
    page.get_by_role("link", name="Bàn giao cho người quản lý mới").click()
    ui.arrive(f"/facilities/accounts/{account_id}/hand-over")
    expect(page.locator("h1")).to_have_text(f"Bàn giao tài khoản: {USERNAME}")
    ui.check(screenshot="admin-hand-over")
    focused(ui, "full_name")
    fill_custodian(page, "Lý Văn Tâm", "male", "Trưởng trạm", "tam.lv@example.vn",
                   "0987 654 321")
    fill_request(ui, "45/SYT-NVY", RECENT, "Chị Giao chuyển công tác")
    before = len(outbox())
    ui.press("Enter")

    ui.arrive(f"/facilities/accounts/{account_id}")
    expect(page.locator("#flashes")).to_contain_text(f"Đã gửi yêu cầu cho tài khoản {USERNAME}.")
    expect(page.locator("main")).to_contain_text("Chờ người thứ hai phê duyệt")
    assert outbox()[before:] == []
    approve_pending(app)  # the second administrator (P2.1)
    ui.goto(f"/facilities/accounts/{account_id}")
    ui.arrive(f"/facilities/accounts/{account_id}")
    history = page.locator("table", has_text="Họ và tên")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history.locator("tbody tr").first).to_contain_text("Lý Văn Tâm")
    expect(history.locator("tbody tr").nth(1)).to_contain_text("Trần Thị Giao")
    requests = page.locator("table", has_text="Số văn bản")
    expect(requests).to_contain_text("45/SYT-NVY")
    expect(requests).to_contain_text(RECENT)
    expect(requests).to_contain_text("Chị Giao chuyển công tác")
    db.session.remove()
    account = db.session.get(Account, account_id, options=[selectinload(Account.custodians)])
    assert [c.full_name for c in account.custodians] == ["Trần Thị Giao", "Lý Văn Tâm"]
    assert account.custodians[0].to_at is not None and account.custodians[1].to_at is None
    assert written(account_id) == [("hand_over", "45/SYT-NVY", RECENT_DATE,
                                    "Chị Giao chuyển công tác", province["admin"])]
    # the new password to the registered phone; the previous custodian is told (P4.3a)
    assert [(m["kind"], m["to"]) for m in outbox()[before:]] == [
        ("initial_password", "+84912345678"), ("account_notice", "+84913111222")]
    ui.check()

    # -- revoke (P4.2): the step-up window has passed, so the admin's own OTP is asked ------
    step_up_window_passed(province["admin"])
    page.get_by_role("link", name="Thu hồi tài khoản").click()
    ui.arrive(f"/facilities/accounts/{account_id}/revoke")
    expect(page.locator("h1")).to_have_text(f"Thu hồi tài khoản: {USERNAME}")
    ui.check(screenshot="admin-revoke")
    focused(ui, "ref_number")
    fill_request(ui, "46/SYT-NVY", RECENT, "Đơn vị ngừng sử dụng tài khoản")
    before = len(outbox())
    ui.press("Enter")

    expect(page.get_by_role("heading", name="Xác thực lại bằng mã OTP")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Đã gửi mã tới số điện thoại •••111")
    assert account_named(USERNAME).status == AccountStatus.pending  # not yet
    ui.check(screenshot="step-up")
    focused(ui, "stepup_code")
    page.keyboard.type(ui.code_since(before, kinds=("step_up",)))
    ui.press("Enter")

    ui.arrive(f"/facilities/accounts/{account_id}")
    expect(page.locator("#flashes")).to_contain_text(f"Đã thu hồi tài khoản {USERNAME}.")
    expect(page.locator("h1")).to_contain_text("Đã thu hồi")
    expect(page.locator("main")).to_contain_text("Ngày thu hồi")
    expect(page.get_by_role("link", name="Thu hồi tài khoản")).to_have_count(0)
    expect(page.locator("table", has_text="Số văn bản")).to_contain_text("46/SYT-NVY")
    account = account_named(USERNAME)
    assert account.status == AccountStatus.revoked and account.revoked_at is not None
    assert written(account_id)[-1] == ("revoke", "46/SYT-NVY", RECENT_DATE,
                                       "Đơn vị ngừng sử dụng tài khoản", province["admin"])
    ui.check(screenshot="admin-account-revoked")

    # the station may be issued a new account (one live account per unit)
    page.get_by_role("link", name=f"S1 · {STATION}").click()
    ui.arrive(f"/facilities/{province['station']}")
    expect(page.get_by_role("link", name="Cấp tài khoản")).to_be_visible()
    expect(page.locator("table", has_text="Tên đăng nhập")).to_contain_text("Đã thu hồi")
    ui.check(screenshot="admin-facility")

    # -- the revoked account's right password: the plain revoked message ---------------------
    ui.submit("header button:has-text('Đăng xuất')")
    ui.arrive("/auth/login")
    focused(ui, "username")
    page.keyboard.type(USERNAME)
    page.keyboard.press("Tab")
    page.keyboard.type(initial_password(outbox, USERNAME))  # the newest: the hand-over's
    before = len(outbox())
    ui.press("Enter")
    expect(page.locator("#password-error")).to_have_text(
        "Tài khoản này đã bị thu hồi và không thể đăng nhập nữa. Nếu đơn vị vẫn cần tài khoản, "
        "người đứng đầu đơn vị gửi văn bản đề nghị tới Phòng Công nghệ thông tin của Bộ Y tế "
        "(đơn vị cấp tài khoản).")
    assert "/auth/login" in page.url
    assert outbox()[before:] == []  # no code is sent to a revoked account
    ui.check(screenshot="login-revoked")
