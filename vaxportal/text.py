"""Names as text: one normal form (``clean``), the script check of a name (``scripts``), and
the search key (``fold``: "Nguyễn Văn An" matches "nguyen van an").

``clean`` is applied before a name is stored, searched or compared, so that two names that
look the same are the same text: NFC (a precomposed "ễ" and "e" + two combining marks are one
letter), and no invisible format characters (Unicode category Cf: zero-width space, joiners,
soft hyphen, bidi overrides and isolates, BOM), which would make "An" and "A\u200bn" two
people or hide a name from the search."""

from __future__ import annotations

import unicodedata

_HIGHEST = "\uffff"


def clean(s: str) -> str:
    """NFC, without format characters (Cf), whitespace collapsed and stripped."""
    kept = unicodedata.normalize("NFC", s)
    if not kept.isprintable():  # a printable text has no Cf character: no need to look
        kept = "".join(c for c in kept if unicodedata.category(c) != "Cf")
    return " ".join(kept.split())


def scripts(s: str) -> set[str]:
    """The scripts of the letters of ``s`` ("LATIN", "CYRILLIC", "GREEK", ...): Vietnamese
    letters, with every diacritic and Đ/đ, are LATIN. More than one in a name means letters
    that only look alike (a Cyrillic "а" among Latin ones)."""
    found = set()
    for c in unicodedata.normalize("NFC", s):
        if unicodedata.category(c).startswith("L"):
            found.add(unicodedata.name(c, "UNKNOWN").split(" ", 1)[0])
    return found


def fold(s: str) -> str:
    """Lower-case, without diacritics (đ → d) or format characters, whitespace collapsed and
    stripped."""
    decomposed = unicodedata.normalize("NFD", clean(s).lower())
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
    return folded_words(fold(s or ""))


def folded_words(folded: str) -> list[str]:
    """``name_words`` of a name already folded (``fold``)."""
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return list(dict.fromkeys(word[:WORD_KEY_LENGTH] for word in words))
