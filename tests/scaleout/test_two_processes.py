"""Two web processes on one PostgreSQL and one Redis (issue 13, scale-out): what one process
counts or ends holds in the other, over real HTTP. One browser's requests go to A or B as a
load balancer would send them; its cookies are the same at both."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD
from tests.scaleout.cluster import Browser

pytestmark = pytest.mark.postgres

WRONG = "Sai-Mat-Khau#77"


def test_p3_4_sign_in_rate_limits_add_up_across_two_processes(pair, factory):
    """LOGIN_RATE_LIMIT is 8 an hour: tries split between A and B count together (Redis),
    where each process alone would have let all ten through."""
    a, b = pair
    factory.account(username="target1")
    browser = Browser()
    for web in (a, b) * 4:
        assert browser.password(web, "target1", WRONG).status == 200
    assert browser.password(a, "target1", PASSWORD).status == 429
    assert browser.password(b, "target1", PASSWORD).status == 429


def test_p3_4_wrong_passwords_at_one_process_make_the_username_wait_at_the_other(
        pair, factory, outbox):
    """Three wrong passwords (LOCKOUT_PASSWORD_FAILURES) spread over A and B: the right
    password from another unknown browser waits at either process; the holder's own browser,
    which signed in before at A, still signs in at B (a lock-out is never a weapon)."""
    a, b = pair
    factory.account(username="target2")
    holder = Browser()
    assert holder.sign_in(a, "target2", PASSWORD, outbox).status == 303
    holder.page(a, "/")
    assert holder.post(a, "/auth/logout").status in (302, 303)  # the device cookie stays
    attacker = Browser()
    for web in (b, a, b):
        assert attacker.password(web, "target2", WRONG).status == 200

    for web in (a, b):
        answer = Browser().password(web, "target2", PASSWORD)
        assert answer.status == 200 and "Đã nhập sai quá nhiều lần" in answer.text
    assert holder.sign_in(b, "target2", PASSWORD, outbox).status == 303


def test_p3_4_ending_sessions_at_one_process_ends_them_at_the_other(
        pair, nurse_account, outbox):
    a, b = pair
    first, second = Browser(), Browser()
    # the password at A, the code at B: the half-open session lives in the database
    assert first.sign_in(a, nurse_account.username, PASSWORD, outbox, code_at=b).status == 303
    for web in (a, b):
        first.page(web, "/recipients/")
    assert second.sign_in(b, nurse_account.username, PASSWORD, outbox).status == 303

    second.page(a, "/auth/sessions")
    assert second.post(a, "/auth/sessions", {}).status == 303  # "end every other session"

    for web in (b, a):
        answer = first.get(web, "/recipients/")
        assert answer.status in (302, 303) and "/auth/login" in answer.location
    second.page(b, "/recipients/")
