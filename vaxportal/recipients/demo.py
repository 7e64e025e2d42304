"""Demo recipients and doses for ``vaxportal seed-demo`` (deterministic: the same every run)."""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from vaxportal.extensions import db
from vaxportal.facilities.models import VACCINATING_KINDS, Facility
from vaxportal.recipients.models import Dose, Vaccine
from vaxportal.recipients.services import create_recipient, validate_recipient_data
from vaxportal.recipients.vaccines import seed_vaccines

PER_FACILITY = 40
ENTRY_KINDS = VACCINATING_KINDS
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương")
MIDDLE = {"male": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công"),
          "female": ("Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ", "Bích")}
GIVEN = {"male": ("An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Khoa", "Long", "Nam",
                  "Phúc", "Quang", "Sơn", "Tài", "Thắng", "Toàn", "Trung", "Vinh"),
         "female": ("An", "Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
                    "Mai", "Nga", "Oanh", "Phương", "Thảo", "Trang", "Uyên", "Yến")}
WARDS = ("Long Xuyên", "Bình Đức", "Mỹ Thới", "Châu Đốc", "Vĩnh Tế", "Tân Châu", "Châu Phú")
STREETS = ("Trần Hưng Đạo", "Hai Bà Trưng", "Nguyễn Huệ", "Lý Thái Tổ", "Tôn Đức Thắng")
OCCUPATIONS = ("Nông dân", "Công nhân", "Giáo viên", "Buôn bán", "Học sinh", "Nội trợ",
               "Nhân viên y tế", "Hưu trí")
PRIORITY = ("N01", "N07", "N08", "N18")
MOBILE_PREFIXES = ("90", "91", "93", "94", "96", "97", "98", "70", "77", "79", "83", "86")
FIRST_DAY = date(2021, 3, 8)  # the first COVID-19 doses in Vietnam


def seed_recipients(facilities: dict[str, Facility]) -> int:
    """A few hundred recipients with doses at the facilities that enter data."""
    rng = random.Random(2021)
    seed_vaccines()
    vaccines = list(db.session.scalars(sa.select(Vaccine).order_by(Vaccine.code)))
    used_ids: set[str] = set()
    count = 0
    for code in sorted(facilities):
        facility = facilities[code]
        if facility.kind not in ENTRY_KINDS:
            continue
        for _ in range(PER_FACILITY):
            data = _person(rng, used_ids)
            clean, errors = validate_recipient_data(data)
            if errors:  # never expected: the generator follows the rules
                continue
            recipient = create_recipient(clean, facility.id)
            _doses(rng, recipient, facility, vaccines)
            count += 1
    db.session.flush()
    return count


def _person(rng: random.Random, used_ids: set[str]) -> dict:
    gender = rng.choice(("male", "female"))
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 66))
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[gender])} {rng.choice(GIVEN[gender])}"
    return {
        "full_name": name, "date_of_birth": born, "gender": gender,
        "national_id": _national_id(rng, born, gender, used_ids),
        "insurance_number": _insurance(rng) if rng.random() < 0.7 else None,
        "phone": f"+84{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
        if rng.random() < 0.8 else None,
        "occupation": rng.choice(OCCUPATIONS), "ethnicity": "Kinh",
        "nationality": "Việt Nam", "priority_group": rng.choice(PRIORITY),
        "province": "An Giang", "ward": rng.choice(WARDS),
        "street": f"{rng.randrange(1, 300)} {rng.choice(STREETS)}",
    }


def _national_id(rng: random.Random, born: date, gender: str, used: set[str]) -> str:
    """CCCD: province (089, An Giang), century and gender, year of birth, six digits."""
    century_gender = (0 if born.year < 2000 else 2) + (1 if gender == "female" else 0)
    while True:
        nid = f"089{century_gender}{born.year % 100:02d}{rng.randrange(10**6):06d}"
        if nid not in used:
            used.add(nid)
            return nid


def _insurance(rng: random.Random) -> str:
    return f"{rng.choice(('GD', 'HT', 'DN', 'CN', 'TE'))}{rng.randrange(1, 6)}89" \
           f"{rng.randrange(10**10):010d}"


def _doses(rng: random.Random, recipient, facility: Facility, vaccines: list) -> None:
    vaccine = rng.choice(vaccines)
    given = FIRST_DAY + timedelta(days=rng.randrange(0, 300))
    vaccinator = f"{rng.choice(FAMILY)} Thị {rng.choice(GIVEN['female'])}"
    for number in range(1, rng.choice((0, 1, 2, 2, 3, 3)) + 1):
        db.session.add(Dose(
            recipient_id=recipient.id, facility_id=facility.id, vaccine_id=vaccine.id,
            lot_number=f"{vaccine.code}-{rng.randrange(1000, 9999)}", dose_number=number,
            given_on=given, vaccinator=vaccinator,
            **({"aefi": "mild", "aefi_note": "Sốt nhẹ, đau tại chỗ tiêm"}
               if rng.random() < 0.05 else {"aefi": "none"}),
        ))
        given += timedelta(days=max(vaccine.min_interval_days, 21) + rng.randrange(0, 60))
        if given > date(2022, 12, 31):
            break
