"""Fixtures of the certificates tests: a recipient with two doses. The signer's key lives in
each test's own folder (``base_config``); places, the nurse and recipients come from
``tests/fixtures.py``, issuing through the page from ``tests/helpers.py``."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import add_dose

#: the person a certificate is issued to: what it must show and what it must not
DAO = {"full_name": "Nguyễn Thị Đào", "date_of_birth": date(1985, 2, 14), "gender": "female",
       "phone": "+84912345678", "street": "12 Trần Hưng Đạo"}


@pytest.fixture
def vaccinated(person):
    """A recipient of S1 with two Comirnaty doses."""
    recipient = person(**DAO)
    add_dose(recipient, "PFIZER", date(2021, 8, 2), number=1, lot="PFIZER-1")
    add_dose(recipient, "PFIZER", date(2021, 8, 23), number=2, lot="PFIZER-2")
    return recipient
