"""Journey: the first sign-in of an issued account, in a real browser (P3.2, P4.3b, P3.4).

The password from the initial SMS, the activation code by SMS, the forced password change
(a well-known password refused first, with the rule named), the offer of an authenticator app
(QR code as inline SVG, the key as text, confirmed with a code computed by pyotp), then a
sign-out and a second sign-in with the authenticator code. Keyboard only, on every page.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.helpers import initial_password
from vaxportal.auth import otp
from vaxportal.auth.models import Account, AccountStatus, UserSession
from vaxportal.extensions import db
from vaxportal.facilities import lifecycle

USERNAME = "tram.myhoa"
WEAK = "Matkhau@123"  # passes the composition rule, but is a well-known password (P4.3b)
NEW_PASSWORD = "Vung-Tau#Bien77"


@pytest.fixture
def issued(factory):
    """A station's account just issued (P4.1): pending, its initial password sent by SMS."""
    station = factory.facility("S9", name="Trạm Y tế Mỹ Hoà")
    account = lifecycle.issue_account(station, USERNAME, "data_entry", "0912 777 888",
                                      {"full_name": "Phạm Thị Giữ"})
    db.session.commit()
    return account.id


def fresh(account_id: int) -> Account:
    """The account as the live server left it."""
    db.session.remove()
    return db.session.get(Account, account_id)


def focused(ui, name: str) -> None:
    expect(ui.page.locator(f"main [name={name}]")).to_be_focused()


def type_into(ui, name: str, text: str) -> None:
    """Type into the field that has the focus, which must be ``name``."""
    focused(ui, name)
    ui.page.keyboard.type(text)


def authenticator_code(secret: str, last_step: int | None) -> str:
    """What the app shows: the current code, or the next one if the current time step was
    already used (the server accepts one step either side of its clock, never a used one)."""
    step = int(time.time() // otp.TOTP_INTERVAL)
    if last_step is not None:
        step = max(step, last_step + 1)
    return pyotp.TOTP(secret).at(step * otp.TOTP_INTERVAL)


def test_p3_2_p4_3b_first_sign_in_activation_password_change_and_authenticator(
        ui, issued, outbox):
    page = ui.page
    assert fresh(issued).status == AccountStatus.pending

    # -- the password from the initial SMS ------------------------------------------------
    ui.goto("/auth/login")
    expect(page.locator("h1")).to_have_text("Đăng nhập")
    ui.check(screenshot="login")
    type_into(ui, "username", USERNAME)
    page.keyboard.press("Tab")
    type_into(ui, "password", initial_password(outbox, USERNAME))
    before = len(outbox())
    ui.press("Enter")

    # -- the activation code, by SMS to the registered phone (P3.2) -------------------------
    ui.arrive("/auth/otp")
    expect(page.locator("h1")).to_have_text("Kích hoạt tài khoản")
    expect(page.locator("main")).to_contain_text("•••888")
    (sms,) = outbox()[before:]
    assert (sms["kind"], sms["to"]) == ("activation", "+84912777888")
    ui.check(screenshot="otp-activation")
    type_into(ui, "code", sms["secret"])
    ui.press("Enter")

    # -- the forced password change, before anything else (P4.3b) ----------------------------
    ui.arrive("/auth/password")
    assert fresh(issued).phone_verified_at is not None
    expect(page.locator("main")).to_contain_text("bạn phải đổi mật khẩu ngay")
    expect(page.locator("main [name=current_password]")).to_have_count(0)
    ui.check(screenshot="password-change")
    ui.goto("/")  # the home page is not reachable yet: back to the change
    ui.arrive("/auth/password")
    type_into(ui, "new_password", WEAK)
    page.keyboard.press("Tab")
    type_into(ui, "confirm_password", WEAK)
    ui.press("Enter")
    error = page.locator("#new_password-error")
    expect(error).to_have_text(
        "Mật khẩu quá phổ biến hoặc dễ đoán, vui lòng chọn mật khẩu khác.")
    expect(page.locator("#new_password")).to_have_attribute("aria-invalid", "true")
    assert fresh(issued).must_change_password
    ui.check(screenshot="password-change-refused")
    type_into(ui, "new_password", NEW_PASSWORD)
    page.keyboard.press("Tab")
    type_into(ui, "confirm_password", NEW_PASSWORD)
    ui.press("Enter")

    # -- the offer of an authenticator app ---------------------------------------------------
    ui.arrive("/auth/totp")
    expect(page.locator("#flashes")).to_contain_text("Đã đổi mật khẩu.")
    account = fresh(issued)
    assert account.status == AccountStatus.active and not account.must_change_password
    assert account.totp_secret is None
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    expect(qr.locator("title")).to_have_text("Mã QR để thêm tài khoản vào ứng dụng xác thực")
    assert qr.locator("path").count() >= 1
    expect(page.locator(".qr img")).to_have_count(0)  # drawn by the server, no image request
    key = page.locator("code.totp-key").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", key), key
    secret = key.replace(" ", "")
    ui.check(screenshot="totp-enrol")
    type_into(ui, "code", authenticator_code(secret, None))
    ui.press("Enter")

    ui.arrive("/")
    expect(page.locator("#flashes")).to_contain_text("Đã bật xác thực bằng ứng dụng.")
    expect(page.locator("h1")).to_have_text("Xin chào, Phạm Thị Giữ")
    account = fresh(issued)
    assert account.totp_secret and secret not in account.totp_secret  # encrypted at rest
    assert otp.decrypt_secret(account.totp_secret, "test-otp-key") == secret
    enrolled_step = account.totp_last_step
    assert enrolled_step is not None  # the confirming code is used up
    ui.check(screenshot="home")

    # -- sign out, then in again with the authenticator code ----------------------------------
    ui.submit("header button:has-text('Đăng xuất')")
    ui.arrive("/auth/login")
    expect(page.locator("#flashes")).to_contain_text("Bạn đã đăng xuất.")
    ui.check()
    before = len(outbox())
    type_into(ui, "username", USERNAME)
    page.keyboard.press("Tab")
    type_into(ui, "password", NEW_PASSWORD)
    ui.press("Enter")
    ui.arrive("/auth/otp")
    expect(page.locator("main")).to_contain_text(
        "Nhập mã 6 chữ số đang hiển thị trên ứng dụng xác thực của bạn.")
    expect(page.locator("main")).to_contain_text("Gửi mã qua SMS thay cho ứng dụng")
    assert outbox()[before:] == []  # the app gives the code: no SMS
    ui.check(screenshot="otp")
    type_into(ui, "code", authenticator_code(secret, enrolled_step))
    ui.press("Enter")

    ui.arrive("/")
    expect(page.locator("h1")).to_have_text("Xin chào, Phạm Thị Giữ")
    ui.check()
    account = fresh(issued)
    assert account.totp_last_step > enrolled_step
    open_sessions = db.session.scalars(sa.select(UserSession).where(
        UserSession.account_id == issued, UserSession.ended_at.is_(None))).all()
    assert [row.stage for row in open_sessions] == ["full"]
