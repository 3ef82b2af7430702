"""Names compared for duplicates: NFKC, case, spaces and punctuation removed, the type word stripped.

NFKC folds full-width letters, digits and brackets to their ordinary forms (``１号`` → ``1号``, ``（`` → ``(``)
and the ideographic space to a space; every character of Unicode's punctuation, symbol, separator and
control categories is then dropped, so ``人民公园（东门）`` and ``人民公园 东门`` compare equal, while
digits stay (``学校（2）`` is not ``学校``).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from functools import lru_cache
from typing import Iterable


class _DropTable(dict):
    """str.translate's table: punctuation, symbols, separators and control characters map to None.

    Filled as characters are met (a table of all 1.1 million code points takes half a second to build).
    """

    def __missing__(self, cp: int) -> int | None:
        cat = unicodedata.category(chr(cp))
        value = None if cat[0] in "PSZ" or cat in ("Cc", "Cf") else cp
        self[cp] = value
        return value


@lru_cache(maxsize=1)
def _drop_table() -> _DropTable:
    return _DropTable()


def normalise(name: str, suffixes: Iterable[str] = ()) -> str:
    """One name's comparison key.

    >>> normalise("人民公园（东门） 应急避难场所", ["应急避难场所"])
    '人民公园东门'
    >>> normalise("ＸＸ小学·1号", []) == normalise("xx小学1号", [])
    True
    """
    return normalise_many([name], suffixes)[0]


def normalise_many(names, suffixes: Iterable[str] = ()) -> np.ndarray:
    """The comparison keys of many names (any sequence; None and NaN give ""), as an object array of str."""
    keys = sorted({normalise_plain(x) for x in suffixes}, key=len, reverse=True)
    keys = [k for k in keys if k]
    strip = re.compile("(?:" + "|".join(map(re.escape, keys)) + ")$") if keys else None
    table = _drop_table()
    out = np.empty(len(names), dtype=object)
    # one pass of plain str methods per name: three pandas .str passes took three times as long
    for i, name in enumerate(names):
        if not isinstance(name, str):
            key = ""
        else:
            key = unicodedata.normalize("NFKC", name).casefold()
            if not key.isalnum():  # most names are letters and digits only: translate only the others
                key = key.translate(table)
        if strip is not None:
            key = strip.sub("", key) or key  # a name that is only the type word stays as it is
        out[i] = key
    return out


def normalise_plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_drop_table())
