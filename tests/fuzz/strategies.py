"""What the fuzzer types into a field: the page's own value, a plausible one, or something
nasty (any unicode, Vietnamese with its diacritics, control characters and NUL bytes, very
long text, dates and numbers in odd forms, markup, invalid UTF-8); a field may also be left
out or sent several times."""

from __future__ import annotations

import io
import zipfile

import openpyxl
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from tests.fuzz.forms import Field
from tests.helpers import RECENT
from vaxportal.recipients.services import RECIPIENT_FIELDS

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
    "áàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "ÁÀẢÃẠẮẰẲẴẶẤẦẨẪẬÉÈẺẼẸẾỀỂỄỆÍÌỈĨỊÓÒỎÕỌỐỒỔỖỘỚỜỞỠỢÚÙỦŨỤỨỪỬỮỰÝỲỶỸỴ"
    "\u0300\u0301\u0303\u0309\u0323"  # combining tone marks (decomposed input)
    "0123456789 /.-,'"
)

ODD_DATES = [
    "31/02/2021", "29/02/2023", "00/00/0000", "0/0/0", "1/1/1", "05/09/0000", "05/09/99999",
    "32/13/2021", "05-09-1980", "05.09.1980", "05/09-1980", "1980-09-05", "2021-06-01T10:00",
    "05/09/1980 ", " 5/9/1980", "٠٥/٠٩/١٩٨٠", "０５/０９/１９８０", "05/09/1899", "01/01/1900",
    "31/12/9999", "01/01/2100", "05/09/80", "5/9", "hôm nay", "-1/-1/-1", "05/09/1980\x00",
    "99999999999999999999/1/2021",
]
ODD_NUMBERS = [
    "-1", "0", "11", "-0", "1.5", "1e309", "NaN", "inf", "-inf", "0x1F", "1_000", "١", "５",
    "99999999999999999999999999", "-99999999999999999999999999", "2147483648",
    "9223372036854775808", " 3 ", "3\x00", "",
]
ODD_TEXT = [
    "\x00", "a\x00b", "\x00" * 50, "\x01\x02\x1b[31m\x7f", "\r\n\r\n", "\t", "\u200b", "\ufeff",
    "\u202eđảo ngược", "\U0001f489💉", "Z̴̧͇̓a̶l̸g̷o̵", "'; DROP TABLE account;--", "\" OR 1=1 --",
    "<script>alert(1)</script>", "<b>đậm</b>", "{{ 7*7 }}", "%(name)s %s %d", "%", "_", "\\",
    "=HYPERLINK(\"http://x\")", "keep:", "keep:-1", "keep:99999999999999999999", "distinct",
    "../../etc/passwd", "http://evil.example/", "//evil.example", "javascript:alert(1)",
    "Nguyễn Văn Ấn", "NGUYỄN VĂN ẤN", "nguyen van an", "  Trần   Thị   Bé  ", "Đ",
]
PLAUSIBLE = {
    "full_name": ["Nguyễn Văn Bình", "Trần Thị Hoa", "Lê Văn Giữ S1"],
    "date_of_birth": ["05/09/1980", "1/1/2000"],
    "national_id": ["089080765432", "123456789", "089 080 765 433"],
    "insurance_number": ["DN4797915000001", "0123456789"],
    "phone": ["0912345678", "+84 912 345 679"],
    "custodian_phone": ["0912345680"],
    "new_phone": ["0912345681", ""],
    "given_on": ["01/06/2021", "15/03/2022"],
    "ref_date": [RECENT],
    "starts_on": ["01/01/2024"],
    "ends_on": ["31/12/2030"],
    "ref_number": ["123/SYT-NVY"],
    "reason": ["Theo công văn đề nghị của đơn vị", "Tiêm mũi nhắc tại trạm"],
    "id_number": ["089080765432"],
    "lot_number": ["AZ-2"], "vaccinator": ["Lê Thị Tiêm"],
    "dose_number": ["1", "2", "10"],
    "email": ["nguoi.dung@syt.gov.vn"],
    "username": ["tyt.moi", "user.fuzz"], "code": ["TYT-FZ", "123456"],
    "name": ["Trạm Y tế Thử"], "parent_code": ["D1", ""], "facility_code": ["S2", "S1"],
    "unit": ["Trạm Y tế"], "position": ["Trưởng trạm"], "q": ["nguyen", "le van giu"],
    "new_password": ["Mật-khẩu#Mới9x", "Tiem-Chung#Xa9Ph"],
    "confirm_password": ["Mật-khẩu#Mới9x"], "current_password": ["Tiem-Chung#Xa9Ph"],
    "lang": ["vi", "en"], "next": ["/", "/recipients/", "//evil.example/"],
}

IMPORT_HEADERS = [str(label) for _key, label, _kind in RECIPIENT_FIELDS]

nasty_text = st.one_of(
    st.text(max_size=40),  # any code point but surrogates: controls, NUL, RTL, emoji, ...
    st.text(alphabet=VIETNAMESE, max_size=60),
    st.sampled_from(ODD_TEXT), st.sampled_from(ODD_DATES), st.sampled_from(ODD_NUMBERS),
    st.integers(min_value=200, max_value=20_000).map(lambda n: ("Nguyễn Thị Ánh " * n)[:n]),
    st.integers(min_value=1_000, max_value=100_000).map(lambda n: "9" * n),
    st.binary(min_size=1, max_size=12),  # sent percent-encoded: not UTF-8 at all
)


odd_numbers = st.one_of(st.sampled_from(ODD_NUMBERS), st.integers().map(str),
                        st.integers(min_value=2**31 - 2, max_value=2**70).map(str))
odd_dates = st.sampled_from(ODD_DATES)
DATE_NAMES = ("date_of_birth", "given_on", "ref_date", "starts_on", "ends_on", "date_from",
              "date_to")
NUMBER_NAMES = ("person", "dose_number", "session_id")


def kind_of(item: Field) -> str:
    """``number`` (ids, choices, counts), ``date`` or ``text``, by the field's name and
    type (not its value, which changes from one example to the next)."""
    if item.name in DATE_NAMES:
        return "date"
    if item.kind == "select" or item.name in NUMBER_NAMES or item.name.endswith("_id"):
        return "number"
    return "text"


def pick(options: list[str]) -> st.SearchStrategy:
    """One of ``options``, drawn the same way whatever their number: the pages' choices
    grow as the examples add rows, and Hypothesis wants the same draws for the same path."""
    return st.integers(min_value=0, max_value=2**16 - 1).map(lambda i: options[i % len(options)])


def usual_values(item: Field, live: list[str]) -> st.SearchStrategy:
    """What a person would send: the page's own value (or option) when it has one, a
    plausible one, or the live one of the example (the code just sent, the password)."""
    own = [v for v in item.values if v] or PLAUSIBLE.get(item.name) or [""]
    branches = [pick(own), pick(PLAUSIBLE.get(item.name) or list(item.values) or [""])]
    if live:
        branches.append(pick(live))
    return st.one_of(*branches)


odd_values = st.one_of(nasty_text, odd_numbers, odd_dates)


def odd_for(item: Field) -> st.SearchStrategy:
    """Odd input for ``item``: odd numbers for a number, odd dates for a date, any text."""
    return {"number": st.one_of(odd_numbers, odd_numbers, nasty_text),
            "date": st.one_of(odd_dates, odd_dates, nasty_text),
            "text": odd_values}[kind_of(item)]


def sendings(usual: st.SearchStrategy, odd: st.SearchStrategy, how: str) -> st.SearchStrategy:
    """The values a field is sent with. ``usual``: one usual value; ``odd``: an odd value,
    or none, or several; ``any``: either, field by field."""
    if how == "usual":
        return st.lists(usual, min_size=1, max_size=1)
    one = odd if how == "odd" else st.one_of(usual, usual, odd)
    return st.one_of(st.lists(one, min_size=1, max_size=1),
                     st.lists(one, min_size=1, max_size=1),
                     st.just([]),
                     st.lists(st.one_of(usual, one), min_size=2, max_size=3))


extra_fields = st.lists(st.tuples(st.one_of(st.text(max_size=12), st.sampled_from(
    ["csrf_token", "stepup_code", "stepup_resend", "next", "id", "facility_id", "confirm"])),
    nasty_text), max_size=2)


# -- uploads -------------------------------------------------------------------------------

def _xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v
                      for v in row])
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s" if isinstance(cell.value, str) else cell.data_type
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name or "x", data)
    return buffer.getvalue()


def person_workbook(n: int) -> bytes:
    """A workbook as the import template asks for, of one person named after ``n`` (a file
    imported before is refused)."""
    person = {"full_name": f"Phạm Thị Nhập {n}", "date_of_birth": "02/03/1990", "gender": "Nữ"}
    return _xlsx([IMPORT_HEADERS, [person.get(key) for key, _label, _kind in RECIPIENT_FIELDS]])


good_uploads = st.tuples(st.integers(min_value=0, max_value=10**9).map(person_workbook),
                         st.just("danh-sach.xlsx"))


def _odd_uploads() -> st.SearchStrategy:
    """(content, filename) of a file input: random bytes, a zip that is no workbook, an
    .xlsx with the template's headers (or not) and fuzzed cells."""
    cell = st.one_of(nasty_text.filter(lambda v: isinstance(v, str)), st.integers(),
                     st.floats(allow_nan=True), st.none())
    row = st.lists(cell, min_size=0, max_size=len(IMPORT_HEADERS) + 2)
    header = st.one_of(st.just(IMPORT_HEADERS), st.lists(st.text(max_size=10), max_size=4))
    content = st.one_of(
        st.binary(max_size=200),
        st.dictionaries(st.text(max_size=20), st.binary(max_size=50), max_size=3).map(_zip),
        st.tuples(header, st.lists(row, max_size=4)).map(lambda hr: _xlsx([hr[0], *hr[1]])),
    )
    name = st.one_of(st.just("danh-sach.xlsx"), st.text(max_size=30),
                     st.sampled_from(["a.xls", "../../x.xlsx", "đối tượng.xlsx", ".xlsx", ""]))
    return st.tuples(content, name)


odd_uploads = _odd_uploads()
