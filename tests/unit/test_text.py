import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxportal.text import clean, fold, prefix_range


def test_fold_spellings_of_a_name_meet():
    assert fold("Nguyễn Văn An") == "nguyen van an"
    assert fold("NGUYEN VAN AN") == "nguyen van an"
    assert fold("nguyen van an") == "nguyen van an"


def test_fold_d_with_stroke():
    assert fold("Đặng") == "dang"
    assert fold("đỗ ĐỨC") == "do duc"


def test_fold_collapses_and_strips_whitespace():
    assert fold("  Trần\t Thị \n Hồng  ") == "tran thi hong"
    assert fold("") == ""


def test_fold_all_vowel_marks():
    assert fold("ắằẳẵặ ấầẩẫậ ếềểễệ ốồổỗộ ớờởỡợ ứừửữự ỳýỷỹỵ") == (
        "aaaaa aaaaa eeeee ooooo ooooo uuuuu yyyyy"
    )


def test_fold_is_idempotent():
    once = fold("Phạm Thị Ánh Nguyệt")
    assert fold(once) == once == "pham thi anh nguyet"


def test_prefix_range_bounds_every_key_with_the_prefix():
    low, high = prefix_range("nguyen")
    assert (low, high) == ("nguyen", "nguyen\uffff")
    for key in ("nguyen", "nguyen van an", "nguyenz"):
        assert low <= key < high
    for key in ("nguye", "nguyeo", "pham"):
        assert not (low <= key < high)


def test_name_words_are_the_folded_words_of_a_name_once_each():
    from vaxportal.text import name_words

    assert name_words("Nguyễn Thị Hồng Đào") == ["nguyen", "thi", "hong", "dao"]
    assert name_words("  ĐÀO-văn  Đào, A.") == ["dao", "van", "a"]
    assert name_words("") == [] and name_words(" - ") == []
    assert name_words("a" * 60) == ["a" * 40]


def _clean_by_its_definition(s: str) -> str:
    """``clean`` as its docstring defines it: NFC, every Cf character dropped, whitespace
    collapsed and stripped (the function itself skips the look when the text is printable)."""
    kept = "".join(c for c in unicodedata.normalize("NFC", s) if unicodedata.category(c) != "Cf")
    return " ".join(kept.split())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_clean_keeps_to_its_definition(s):
    assert clean(s) == _clean_by_its_definition(s)


@pytest.mark.parametrize("s", ["Nguy\u200bễn An", "An\u00adh", "\ufeffBình", "Lê\u2067 Văn\u2069",
                               "Tr\u0061\u0300n Th\u1ecb  Bé\t", "Ng\u200cuyen\u200d"])
def test_clean_drops_format_characters_in_names(s):
    assert clean(s) == _clean_by_its_definition(s)
    assert all(unicodedata.category(c) != "Cf" for c in clean(s))
