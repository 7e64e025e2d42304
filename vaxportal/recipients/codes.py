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

import importlib.util
import json
import unicodedata
from functools import lru_cache
from pathlib import Path

import babel
import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import load_only

from vaxportal import renderguard
from vaxportal.extensions import db
from vaxportal.recipients.models import PriorityGroup, Recipient
from vaxportal.text import fold

CODED_FIELDS = ("ethnicity", "nationality", "priority_group", "province", "ward")

#: The priority groups for vaccination. N01-N12 are the groups of Nghị quyết 21/NQ-CP
#: (26/02/2021) on buying and using COVID-19 vaccines (nine items, the first with four
#: front-line groups), worded as the resolution; checked against the text as published by
#: the Hà Tĩnh Department of Justice ("Đối tượng được ưu tiên tiêm vắc xin Covid-19 miễn
#: phí", tuphap.hatinh.gov.vn/huong-dan-nghiep-vu/van-ban-phap-luat-moi/seo/
#: doi-tuong-duoc-uu-tien-tiem-vac-xin-covid19-mien-phi-8484). English after each.
#: N13-N18 are NOT in that text (later lists of the Ministry of Health added groups; no
#: source for them was found): unverified, kept as they were entered.
PRIORITY_GROUPS: list[tuple[str, str]] = [
    # Health-facility workers
    ("N01", "Nhóm 1: Người làm việc trong các cơ sở y tế"),
    # People taking part in epidemic prevention and control (steering committees at every
    # level, quarantine-area staff, contact tracing, epidemiological investigation,
    # community COVID teams, volunteers, reporters...)
    ("N02", "Nhóm 2: Người tham gia phòng chống dịch (Thành viên Ban chỉ đạo phòng, chống "
            "dịch các cấp, người làm việc ở các khu cách ly, làm nhiệm vụ truy vết, điều tra "
            "dịch tễ, tổ covid dựa vào cộng đồng, tình nguyện viên, phóng viên...)"),
    ("N03", "Nhóm 3: Quân đội"),  # The army
    ("N04", "Nhóm 4: Công an"),  # The police
    # Vietnamese diplomatic staff posted abroad; customs; immigration officers
    ("N05", "Nhóm 5: Nhân viên, cán bộ ngoại giao của Việt Nam được cử đi nước ngoài; hải "
            "quan, cán bộ làm công tác xuất nhập cảnh"),
    # Providers of essential services: aviation, transport, tourism; electricity, water...
    ("N06", "Nhóm 6: Người cung cấp dịch vụ thiết yếu: hàng không, vận tải, du lịch; cung "
            "cấp dịch vụ điện, nước..."),
    # Teachers and staff of education and training institutions; staff of administrative
    # agencies and units in frequent contact with many people
    ("N07", "Nhóm 7: Giáo viên, người làm việc tại các cơ sở giáo dục, đào tạo; người làm "
            "việc tại các cơ quan, đơn vị hành chính thường xuyên tiếp xúc với nhiều người"),
    # People with chronic diseases; people over 65
    ("N08", "Nhóm 8: Người mắc các bệnh mạn tính, người trên 65 tuổi"),
    ("N09", "Nhóm 9: Người sinh sống tại các vùng có dịch"),  # living in outbreak areas
    # The poor; beneficiaries of social policies
    ("N10", "Nhóm 10: Người nghèo, các đối tượng chính sách xã hội"),
    # People sent abroad by a competent state agency for work, study or labour
    ("N11", "Nhóm 11: Người được cơ quan nhà nước có thẩm quyền cử đi công tác, học tập, "
            "lao động ở nước ngoài"),
    # Other groups decided by the Ministry of Health as epidemic control requires
    ("N12", "Nhóm 12: Các đối tượng khác do Bộ Y tế quyết định căn cứ yêu cầu phòng chống "
            "dịch"),
    # -- unverified (see above) --
    ("N13", "Nhóm 13: chức sắc, chức việc các tôn giáo"),  # religious dignitaries
    ("N14", "Nhóm 14: người lao động tự do"),  # self-employed workers
    # workers of enterprises, industrial zones, markets, supermarkets
    ("N15", "Nhóm 15: người lao động tại doanh nghiệp, khu công nghiệp, chợ, siêu thị"),
    # relatives of health-facility workers
    ("N16", "Nhóm 16: thân nhân của người làm việc trong cơ sở y tế"),
    # members of diplomatic missions and international organisations in Viet Nam
    ("N17", "Nhóm 17: thành viên cơ quan đại diện ngoại giao, tổ chức quốc tế tại Việt Nam"),
    # other residents under the local plan
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


@lru_cache(maxsize=8192)
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


@lru_cache(maxsize=8192)
def _place_option(name: str) -> str:
    """Communes and provinces sort and type-ahead by their proper name: "Long Xuyen ·
    Phường Long Xuyên". Kept per name, as ``_option``: a register form lists hundreds, and
    each was folded again on every form."""
    words = name.split()
    for prefix in _PLACE_TYPES:
        size = len(prefix.split())
        if fold(" ".join(words[:size])) + " " == prefix:
            proper = " ".join(words[size:])
            return f"{bare(proper)} · {name}"
    return _option(name)


#: the provinces with their communes, as the package ``vietnam_provinces`` ships them (its
#: ``NESTED_DIVISIONS_JSON_PATH``)
DIVISIONS_FILE = ("vietnam_provinces", "data", "nested-divisions.json")


def _divisions_path() -> Path:
    """The package's data file, found without importing the package: its code enums (one
    member per commune) would take 5 MB of every web worker that shows the register form
    (issue 13: a web worker's peak memory), and only the codes and names are needed."""
    package, *parts = DIVISIONS_FILE
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {package} is not installed")
    return Path(spec.submodule_search_locations[0]).joinpath(*parts)


@lru_cache(maxsize=1)
def _places() -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """(province code, name) in type-ahead order, and each province's (commune code, name)."""
    with open(_divisions_path(), encoding="utf-8") as handle:
        divisions = json.load(handle)
    provinces = sorted(((f"{int(p['code']):02d}", p["name"]) for p in divisions),
                       key=lambda row: _place_key(row[1]))
    wards = {f"{int(p['code']):02d}": sorted(
        ((f"{int(w['code']):05d}", w["name"]) for w in p["wards"]),
        key=lambda row: _place_key(row[1])) for p in divisions}
    return provinces, wards


def _provinces() -> list[tuple[str, str]]:
    return _places()[0]


def _wards() -> dict[str, list[tuple[str, str]]]:
    return _places()[1]


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


def priority_groups(active_only: bool = True, session=None) -> list[tuple[str, str]]:
    """The resolution's groups and those an administrator added; a row with a built-in
    code overrides it (a new label, or withdrawn)."""
    groups = dict(PRIORITY_GROUPS)
    withdrawn = set()
    rows = (session or db.session).scalars(sa.select(PriorityGroup).order_by(PriorityGroup.code))
    for row in rows:
        groups[row.code] = row.label
        if not row.active:
            withdrawn.add(row.code)
    return [(code, name) for code, name in groups.items()
            if not (active_only and code in withdrawn)]


def _pairs(key: str, province: str | None = None) -> list[tuple[str, str]]:
    if key == "ethnicity":
        return ETHNIC_GROUPS
    if key == "nationality":
        return _countries()
    if key == "priority_group":
        return _current_groups(active_only=True)
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


def _group_names(label: str) -> tuple[str, ...]:
    """A priority group as older records wrote it: "Nhóm 5", or the group's own words."""
    number, _colon, words = label.partition(":")
    return fold(number), fold(words)


def label(key: str, code: str | None) -> str:
    if not code:
        return ""
    if key == "ward":
        return _ward_names().get(code, ("", code))[1]
    return _labels(key).get(code, code)


def _labels(key: str) -> dict[str, str]:
    """code -> label, built once: the fixed lists once per process; the priority groups,
    which an administrator may change, once per request or job (an export labels every
    row's group: one read of the table, not one per row)."""
    if key != "priority_group":
        return _fixed_labels(key)
    if not has_app_context():
        return dict(priority_groups(active_only=False))
    cache = g.setdefault("_codes_priority_groups", {})
    if "labels" not in cache:
        cache["labels"] = dict(_current_groups(active_only=False))
    return cache["labels"]


def _current_groups(active_only: bool) -> list[tuple[str, str]]:
    """The priority groups read once per request or job (a form validates and codes a group
    twice, an import once per row: one read of the table, not one per value)."""
    if not has_app_context():
        return priority_groups(active_only=active_only)
    cache = g.setdefault("_codes_priority_groups", {})
    if active_only not in cache:
        # a page's label of a group (``coded`` in a template) may be the first to ask: one
        # read per request, on purpose, wherever it is asked
        with renderguard.permitted():
            cache[active_only] = priority_groups(active_only=active_only)
    return cache[active_only]


def forget_labels() -> None:
    """After a priority group changed: the next label or check reads the table again."""
    if has_app_context():
        g.pop("_codes_priority_groups", None)


@lru_cache(maxsize=8)
def _fixed_labels(key: str) -> dict[str, str]:
    return dict(_pairs(key))


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
    pairs = pairs if pairs is not None else _pairs(key, province)
    codes = {code for code, _name in pairs}
    if key in ("ethnicity", "province") and raw.isdigit():
        raw = raw.zfill(2)
    if key == "ward" and raw.isdigit():
        raw = raw.zfill(5)
    if raw.upper() in codes:
        return raw.upper()
    wanted = fold(raw)
    if key == "nationality":
        return _country_words().get(wanted)
    names, places, groups, squeezed = _label_index(key, tuple(pairs))
    found = [index.get(value) for index, value in (
        (names, wanted),
        (places, _place_key(raw) if places else None),
        (groups, wanted))]
    found = [position for position in found if position is not None]
    if found:
        return pairs[min(found)][0]
    if key == "ethnicity":  # "Khmer", "Hmong", "Ba Na": hyphens and spaces vary
        position = squeezed.get(wanted.replace("-", "").replace(" ", ""))
        if position is not None:
            return pairs[position][0]
        if wanted.replace("-", "").replace(" ", "") == "khmer":
            return "05"
    return None


@lru_cache(maxsize=64)
def _label_index(key: str, pairs: tuple[tuple[str, str], ...]) -> tuple[dict, ...]:
    """The folded forms of a list's labels -> the position of the first pair that has them
    (a list is folded once, not once per value looked up: an import codes every row)."""
    names: dict[str, int] = {}
    places: dict[str, int] = {}
    groups: dict[str, int] = {}
    squeezed: dict[str, int] = {}
    for position, (_code, name) in enumerate(pairs):
        folded = fold(name)
        names.setdefault(folded, position)
        if key in ("province", "ward"):
            places.setdefault(_place_key(name), position)
        if key == "priority_group":
            for form in _group_names(name):
                groups.setdefault(form, position)
        if key == "ethnicity":
            squeezed.setdefault(folded.replace("-", "").replace(" ", ""), position)
    return names, places, groups, squeezed


def match_older_values(session=None) -> int:
    """Older free text becomes a code where it matches (folded); what does not is kept in
    ``recipient.uncoded`` for review and the field left empty. The migration ``codes02``
    runs it in the upgrade's own transaction; ``vaxportal codes match`` again at any time
    (harmless). Statements go through the session (``db.session`` unless given), so the
    audit trail records each change; the caller commits. Returns the number of records
    that kept unmatched text. Only the columns it reads and writes are loaded, so that the
    migration runs on the columns of its revision, whatever columns came later."""
    session = session or db.session

    fields = [getattr(Recipient, key) for key in CODED_FIELDS]
    stmt = (sa.select(Recipient).where(sa.or_(*[f.isnot(None) for f in fields]))
            .options(load_only(*fields, Recipient.uncoded, Recipient.facility_id,
                               Recipient.version_id))
            .order_by(Recipient.id))
    unmatched, groups = 0, priority_groups(active_only=False, session=session)
    for recipient in session.scalars(stmt).all():
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
    session.flush()
    return unmatched
