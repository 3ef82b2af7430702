"""A run's warnings in both languages.

Every analysis gives its warnings in English (the list stays a list of ``str``, for the CLI, the API and QGIS);
a :class:`Notes` also keeps the Chinese of each, so a Chinese report says them in Chinese. :func:`add` works on a
plain list as well (it then keeps the English only).

>>> n = Notes()
>>> n.add("2 shelters are full", "2 处避难场所已满")
>>> list(n), n.text("2 shelters are full", "zh"), n.in_lang("en")
(['2 shelters are full'], '2 处避难场所已满', ['2 shelters are full'])
"""

from __future__ import annotations

from typing import Iterable


class Notes(list):
    """English warnings, with the Chinese of each kept beside them."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.zh: dict[str, str] = dict(getattr(items, "zh", {}) or {})

    def add(self, en: str, zh: str) -> None:
        self.append(en)
        self.zh[en] = zh

    def merge(self, other: Iterable[str]) -> None:
        """Append ``other``'s warnings, with their Chinese."""
        for en in other:
            self.add(en, text_of(other, en, "zh"))

    def text(self, en: str, lang: str) -> str:
        return self.zh.get(en, en) if lang == "zh" else en

    def in_lang(self, lang: str) -> list[str]:
        return [self.text(w, lang) for w in self]


def add(warnings: list, en: str, zh: str) -> None:
    """Add a warning to ``warnings`` (a :class:`Notes`, or a plain list: English only)."""
    if isinstance(warnings, Notes):
        warnings.add(en, zh)
    else:
        warnings.append(en)


def text_of(warnings: Iterable[str], en: str, lang: str) -> str:
    """Warning ``en`` of ``warnings`` in ``lang`` (English when its Chinese is not known)."""
    text = getattr(warnings, "text", None)
    return text(en, lang) if text is not None else en
