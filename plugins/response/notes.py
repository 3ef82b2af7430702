"""The sheet's warnings, in English (as every analysis gives them) and in Chinese for the Chinese card."""

from __future__ import annotations


class Warnings(list):
    """The run's warnings (English, as every analysis gives them), with the Chinese of those the sheet writes itself
    for the Chinese card; a remark appended by other code (the stock's) has none and is shown as it is."""

    def __init__(self) -> None:
        super().__init__()
        self.zh: dict[str, str] = {}

    def add(self, en: str, zh: str) -> None:
        self.append(en)
        self.zh[en] = zh

    def text(self, en: str, lang: str) -> str:
        return self.zh.get(en, en) if lang == "zh" else en
