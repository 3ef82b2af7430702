"""Chinese word lists and the names and phone numbers drawn from them: places, people, mobiles."""

from __future__ import annotations

import numpy as np

_SYL1 = list("青金龙凤白石清新安永太福兴长宝平和华云天双三黄桂柳梅桃竹松红东西"
             "南北高大上中万仁德瑞玉银文富顺乐寿观春秋崇明光灵嘉")
_SYL2 = list("山水桥坝场湾溪林岗岭阳河江池堰沟坪塘庙寺兴安宁平丰泉源峰园口关屯铺坡岩井")
_SURNAMES = list("王李张刘陈杨黄赵周吴徐罗何谢唐冯邓曾彭胡郭林高马梁宋郑"
                 "蒋杜袁蔡余程付向苏廖熊任肖叶雷田文钟魏邱侯汪陶龚范")
_GIVEN = list("伟芳娜敏静强磊军洋勇艳杰涛明超霞平刚桂英华建志国文斌浩宇婷雪琴兰红春梅丽军鹏飞俊峰亮成林波辉云")
_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                    "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "187", "188", "189",
                    "191", "198", "199"]
_STREET_SUFFIX = ["路", "街", "大道", "巷"]


def _person_names(rng: np.random.Generator, n: int) -> list[str]:
    s = rng.integers(0, len(_SURNAMES), n)
    g1 = rng.integers(0, len(_GIVEN), n)
    g2 = rng.integers(0, len(_GIVEN), n)
    two = rng.random(n) < 0.7
    return [_SURNAMES[a] + _GIVEN[b] + (_GIVEN[c] if t else "") for a, b, c, t in zip(s.tolist(), g1.tolist(),
                                                                                      g2.tolist(), two.tolist())]


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    p = rng.integers(0, len(_MOBILE_PREFIXES), n).tolist()
    num = rng.integers(0, 100_000_000, n).tolist()
    return [f"{_MOBILE_PREFIXES[a]}{b:08d}" for a, b in zip(p, num)]


def _place_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct two-character place names (repeating only past the list's size)."""
    combos = [a + b for a in _SYL1 for b in _SYL2 if a != b]
    order = rng.permutation(len(combos))
    return [combos[order[i % len(combos)]] for i in range(n)]
