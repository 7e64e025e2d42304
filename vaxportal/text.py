"""Text keys for search: Vietnamese names folded so "Nguyễn Văn An" matches "nguyen van an"."""

from __future__ import annotations

import unicodedata

_HIGHEST = "\uffff"


def fold(s: str) -> str:
    """Lower-case, without diacritics (đ → d), whitespace collapsed and stripped."""
    decomposed = unicodedata.normalize("NFD", s.lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds for ``low <= key < high``: every key starting with ``prefix`` (index-friendly)."""
    return prefix, prefix + _HIGHEST


#: longest word key kept (longer words are cut: a prefix search still finds them)
WORD_KEY_LENGTH = 40


def name_words(s: str) -> list[str]:
    """The folded words of a name, each once, in order: the keys of search by any part of a
    name ("Nguyễn Thị Hồng Đào" → nguyen, thi, hong, dao). Punctuation separates words."""
    words = "".join(c if c.isalnum() else " " for c in fold(s or "")).split()
    return list(dict.fromkeys(word[:WORD_KEY_LENGTH] for word in words))
