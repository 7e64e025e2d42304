from vaxportal.text import fold, prefix_range


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
