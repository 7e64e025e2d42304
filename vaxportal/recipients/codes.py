"""Coded recipient fields: kept code lists instead of free text, so that coverage can be
counted by priority group, ethnicity, nationality and place.

Contract::

    CODED_FIELDS                              # the recipient keys that hold a code
    choices(key, province=None)               # [(code, option label), ...] for a <select>
    label(key, code)                          # the Vietnamese label of a stored code
    to_code(key, text, province=None)         # a code or a label (folded) -> code, or None
    is_valid(key, code, province=None)

Lists: priority groups (Nghị quyết 21/NQ-CP, 2021, plus ``PriorityGroup`` rows added by an
administrator), the 54 ethnic groups with the General Statistics Office codes, nationality
as ISO 3166-1 alpha-2 with Babel's Vietnamese names, and province and commune of the 2025
two-level administration from the ``vietnam-provinces`` package (codes of the statistics
office: province 2 digits, commune 5 digits). The former district stays free text.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import babel
import sqlalchemy as sa
from sqlalchemy.orm import Session
from vietnam_provinces import Province, Ward

from vaxportal.text import fold

CODED_FIELDS = ("ethnicity", "nationality", "priority_group", "province", "ward")

#: Nghị quyết 21/NQ-CP (26/02/2021, as amended): the priority groups for vaccination.
PRIORITY_GROUPS: list[tuple[str, str]] = [
    ("N01", "Nhóm 1: người làm việc trong các cơ sở y tế, ngành y tế"),
    ("N02", "Nhóm 2: người tham gia phòng, chống dịch (ban chỉ đạo, cách ly, truy vết, "
            "tổ COVID cộng đồng, tình nguyện viên, phóng viên)"),
    ("N03", "Nhóm 3: lực lượng Quân đội"),
    ("N04", "Nhóm 4: lực lượng Công an"),
    ("N05", "Nhóm 5: cán bộ ngoại giao được cử đi nước ngoài; hải quan, xuất nhập cảnh"),
    ("N06", "Nhóm 6: người cung cấp dịch vụ thiết yếu (hàng không, vận tải, du lịch, "
            "điện, nước)"),
    ("N07", "Nhóm 7: giáo viên, người làm việc, học sinh, sinh viên tại cơ sở giáo dục, "
            "đào tạo; người làm việc tại cơ quan hành chính thường xuyên tiếp xúc nhiều người"),
    ("N08", "Nhóm 8: người mắc bệnh mạn tính; người trên 65 tuổi"),
    ("N09", "Nhóm 9: người sinh sống tại vùng có dịch"),
    ("N10", "Nhóm 10: người nghèo, đối tượng chính sách xã hội"),
    ("N11", "Nhóm 11: người được cử đi công tác, học tập, lao động ở nước ngoài"),
    ("N12", "Nhóm 12: đối tượng khác do Bộ Y tế quyết định theo tình hình dịch"),
    ("N13", "Nhóm 13: chức sắc, chức việc các tôn giáo"),
    ("N14", "Nhóm 14: người lao động tự do"),
    ("N15", "Nhóm 15: người lao động tại doanh nghiệp, khu công nghiệp, chợ, siêu thị"),
    ("N16", "Nhóm 16: thân nhân của người làm việc trong cơ sở y tế"),
    ("N17", "Nhóm 17: thành viên cơ quan đại diện ngoại giao, tổ chức quốc tế tại Việt Nam"),
    ("N18", "Nhóm 18: người dân khác theo kế hoạch của địa phương"),
]

#: The 54 ethnic groups with the codes of the General Statistics Office.
ETHNIC_GROUPS: list[tuple[str, str]] = [(f"{n:02d}", name) for n, name in enumerate((
    "Kinh", "Tày", "Thái", "Hoa", "Khơ-me", "Mường", "Nùng", "HMông", "Dao", "Gia-rai",
    "Ngái", "Ê-đê", "Ba-na", "Xơ-đăng", "Sán Chay", "Cơ-ho", "Chăm", "Sán Dìu", "Hrê",
    "Mnông", "Ra-glai", "Xtiêng", "Bru-Vân Kiều", "Thổ", "Giáy", "Cơ-tu", "Gié-Triêng", "Mạ",
    "Khơ-mú", "Co", "Tà-ôi", "Chơ-ro", "Kháng", "Xinh-mun", "Hà Nhì", "Chu-ru", "Lào",
    "La Chí", "La Ha", "Phù Lá", "La Hủ", "Lự", "Lô Lô", "Chứt", "Mảng", "Pà Thẻn", "Cơ Lao",
    "Cống", "Bố Y", "Si La", "Pu Péo", "Brâu", "Rơ-măm", "Ơ-đu",
), start=1)]

# Babel territories that are not ISO 3166-1 alpha-2 countries
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ"}
_PLACE_TYPES = ("thanh pho ", "tinh ", "phuong ", "xa ", "dac khu ")


def bare(text: str) -> str:
    """Without diacritics, case kept: what a keyboard without Vietnamese input types."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _option(name: str) -> str:
    """An option label that starts with its letters without diacritics, so typing them in
    a plain <select> (IE11 included) finds it: "Tay · Tày"; "Kinh" stays "Kinh"."""
    plain = bare(name)
    return name if plain == name else f"{plain} · {name}"


def _place_key(name: str) -> str:
    key = fold(name)
    for prefix in _PLACE_TYPES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _place_option(name: str) -> str:
    """Communes and provinces sort and type-ahead by their proper name: "Long Xuyen ·
    Phường Long Xuyên"."""
    words = name.split()
    for prefix in _PLACE_TYPES:
        size = len(prefix.split())
        if fold(" ".join(words[:size])) + " " == prefix:
            proper = " ".join(words[size:])
            return f"{bare(proper)} · {name}"
    return _option(name)


@lru_cache(maxsize=1)
def _provinces() -> list[tuple[str, str]]:
    rows = [(f"{int(p.code):02d}", p.name) for p in Province.iter_all()]
    return sorted(rows, key=lambda row: _place_key(row[1]))


@lru_cache(maxsize=1)
def _wards() -> dict[str, list[tuple[str, str]]]:
    by_province: dict[str, list[tuple[str, str]]] = {}
    for ward in Ward.iter_all():
        by_province.setdefault(f"{int(ward.province_code):02d}", []).append(
            (f"{int(ward.code):05d}", ward.name))
    return {code: sorted(rows, key=lambda row: _place_key(row[1]))
            for code, rows in by_province.items()}


@lru_cache(maxsize=1)
def _ward_names() -> dict[str, tuple[str, str]]:
    """commune code -> (province code, name)"""
    return {code: (province, name)
            for province, rows in _wards().items() for code, name in rows}


@lru_cache(maxsize=1)
def _countries() -> list[tuple[str, str]]:
    names = babel.Locale("vi").territories
    rows = [(code, name) for code, name in names.items()
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    rows.sort(key=lambda row: (row[0] != "VN", fold(row[1])))
    return rows


@lru_cache(maxsize=1)
def _country_words() -> dict[str, str]:
    """Folded Vietnamese and English names -> code (import of older lists)."""
    words: dict[str, str] = {}
    english = babel.Locale("en").territories
    for code, name in _countries():
        words.setdefault(fold(english.get(code, code)), code)
        words[fold(name)] = code
    return words


def priority_groups(active_only: bool = True) -> list[tuple[str, str]]:
    """The resolution's groups and those an administrator added; a row with a built-in
    code overrides it (a new label, or withdrawn)."""
    groups = dict(PRIORITY_GROUPS)
    withdrawn = set()
    for code, label, active in _priority_rows():
        groups[code] = label
        if not active:
            withdrawn.add(code)
    return [(code, name) for code, name in groups.items()
            if not (active_only and code in withdrawn)]


_PRIORITY_ROWS = "vaxportal.priority_group_rows"


def _priority_rows() -> list[tuple[str, str, bool]]:
    """The administrator's rows, read once per transaction of the session (an import's batch
    checks hundreds of rows against them); any flush, commit or rollback reads them anew."""
    from vaxportal.extensions import db
    from vaxportal.recipients.models import PriorityGroup

    info = db.session.info
    if _PRIORITY_ROWS not in info:
        stmt = sa.select(PriorityGroup.code, PriorityGroup.label, PriorityGroup.active)
        info[_PRIORITY_ROWS] = [tuple(row) for row in db.session.execute(
            stmt.order_by(PriorityGroup.code))]
    return info[_PRIORITY_ROWS]


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_transaction_end")
def _forget_priority_rows(session, *_args) -> None:
    session.info.pop(_PRIORITY_ROWS, None)


def _pairs(key: str, province: str | None = None) -> list[tuple[str, str]]:
    if key == "ethnicity":
        return ETHNIC_GROUPS
    if key == "nationality":
        return _countries()
    if key == "priority_group":
        return priority_groups()
    if key == "province":
        return _provinces()
    if key == "ward":
        return _wards().get(province or "", [])
    raise KeyError(key)


def labelled(key: str, province: str | None = None) -> list[tuple[str, str]]:
    """(code, Vietnamese label) of the list, as a spreadsheet shows them."""
    return list(_pairs(key, province))


def choices(key: str, province: str | None = None) -> list[tuple[str, str]]:
    """Options for the field's <select>, labels starting without diacritics."""
    pairs = _pairs(key, province)
    if key in ("province", "ward"):
        return [(code, _place_option(name)) for code, name in pairs]
    if key == "priority_group":
        return pairs
    return [(code, _option(name)) for code, name in pairs]


def label(key: str, code: str | None) -> str:
    if not code:
        return ""
    if key == "ward":
        return _ward_names().get(code, ("", code))[1]
    if key == "priority_group":
        return dict(priority_groups(active_only=False)).get(code, code)
    return dict(_pairs(key)).get(code, code)


def ward_province(code: str | None) -> str | None:
    found = _ward_names().get(code or "")
    return found[0] if found else None


def is_valid(key: str, code: str | None, province: str | None = None) -> bool:
    if key == "ward":
        return ward_province(code) == province and province is not None
    return code in dict(_pairs(key))


def to_code(key: str, text, province: str | None = None,
            pairs: list[tuple[str, str]] | None = None) -> str | None:
    """A code, or a label compared folded (a province or commune also without its type,
    a priority group also by "Nhóm 5"), as typed in a spreadsheet or an older record."""
    if text is None:
        return None
    raw = str(text).strip()
    if isinstance(text, float) and text.is_integer():
        raw = str(int(text))
    if not raw:
        return None
    if key in ("ethnicity", "province") and raw.isdigit():
        raw = raw.zfill(2)
    if key == "ward" and raw.isdigit():
        raw = raw.zfill(5)
    if key == "nationality":
        return raw.upper() if raw.upper() in dict(_countries()) else \
            _country_words().get(fold(raw))
    if pairs is None and key != "priority_group":  # kept lists: their words read once
        words = _kept_words(key, province)
        return next((words[w] for w in (raw.upper(), *_words_of(key, raw)) if w in words),
                    None)
    return _find(key, raw, pairs if pairs is not None else _pairs(key, province))


def _words_of(key: str, text: str) -> tuple[str, ...]:
    """The forms a name is matched by: folded; a place also without its type ("phuong");
    an ethnic group also without hyphens and spaces ("Khmer", "Ba Na")."""
    wanted = fold(text)
    if key in ("province", "ward"):
        return wanted, _place_key(text)
    if key == "ethnicity":
        return wanted, wanted.replace("-", "").replace(" ", "")
    return (wanted,)


@lru_cache(maxsize=128)
def _kept_words(key: str, province: str | None) -> dict[str, str]:
    """Code, and every matching form of each name, → code, for a list kept in the code."""
    words: dict[str, str] = {}
    for code, name in reversed(_pairs(key, province)):  # the first listed wins
        words.update(dict.fromkeys(_words_of(key, name), code))
    if key == "ethnicity":
        words.setdefault("khmer", "05")
    words.update({code: code for code, _name in _pairs(key, province)})
    return words


def _find(key: str, raw: str, pairs: list[tuple[str, str]]) -> str | None:
    """``to_code`` over ``pairs`` read now (the priority groups an administrator edits)."""
    if raw.upper() in {code for code, _name in pairs}:
        return raw.upper()
    wanted = fold(raw)
    for code, name in pairs:
        if wanted in _words_of(key, name) or (key == "priority_group"
                                              and wanted == fold(name.split(":")[0])):
            return code
    return None


def match_older_values() -> int:
    """Older free text becomes a code where it matches (folded); what does not is kept in
    ``recipient.uncoded`` for review and the field left empty. Run once after the upgrade
    (``vaxportal codes match``; again is harmless). Statements go through the session, so
    the audit trail records each change; the caller commits. Returns the number of records
    that kept unmatched text."""
    from vaxportal.extensions import db
    from vaxportal.recipients.models import Recipient

    fields = [getattr(Recipient, key) for key in CODED_FIELDS]
    stmt = (sa.select(Recipient).where(sa.or_(*[f.isnot(None) for f in fields]))
            .order_by(Recipient.id))
    unmatched, groups = 0, priority_groups(active_only=False)
    for recipient in db.session.scalars(stmt).all():
        older = dict(recipient.uncoded or {})
        province = None
        for key in CODED_FIELDS:
            text = getattr(recipient, key)
            if text is None or not str(text).strip():
                continue
            code = to_code(key, text, province,
                           groups if key == "priority_group" else None)
            if key == "province":
                province = code
            if code is None:
                older[key] = text
                setattr(recipient, key, None)
            elif code != text:
                setattr(recipient, key, code)
        if older and older != (recipient.uncoded or {}):
            recipient.uncoded = older
        unmatched += bool(older)
    db.session.flush()
    return unmatched
