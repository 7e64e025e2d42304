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
