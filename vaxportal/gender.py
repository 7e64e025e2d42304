"""Gender, defined once: the stored codes, the word shown for each, and the words a
spreadsheet may hold for it. A recipient's gender (``recipients/fields.py``) and a
custodian's (P3.3, ``facilities/forms.py``) both read it here."""

from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l

from vaxportal.text import fold


class Gender(enum.StrEnum):
    male = "male"
    female = "female"
    other = "other"


#: (code, label, other words a spreadsheet may hold, folded)
GENDERS: tuple[tuple[Gender, Any, tuple[str, ...]], ...] = (
    (Gender.male, _l("Nam"), ("male", "m")),
    (Gender.female, _l("Nữ"), ("female", "f")),
    (Gender.other, _l("Khác"), ("other",)),
)
#: code → label (lazy)
LABELS: dict[str, Any] = {gender.value: label for gender, label, _words in GENDERS}


def label(code: str | None) -> str:
    """The word shown (and exported) for a stored code; other text as it is."""
    return str(LABELS[code]) if code in LABELS else (code or "")


def normalize(value: Any) -> str:
    """The stored code of a gender given as its code or a word ("Nữ", "nu", "Female", "F")."""
    wanted = fold(str(value or ""))
    for gender, word, words in GENDERS:
        if wanted in {gender.value, fold(str(word)), *words}:
            return gender.value
    raise ValueError(_l("Vui lòng chọn giới tính."))
