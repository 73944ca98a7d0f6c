"""A tiny three-theme corpus for topic-model tests (screen, battery, delivery complaints)."""

from __future__ import annotations

import itertools

THEMES = {
    "screen": ["屏幕有坏点", "屏幕漏光严重", "屏幕亮度太暗", "屏幕一直闪烁", "屏幕出现亮线", "屏幕有划痕"],
    "battery": ["电池续航太短", "电池充不进电", "电池鼓包了", "电池掉电特别快", "电池充电很慢", "电池待机时间短"],
    "delivery": ["快递太慢了", "快递一个星期没到", "快递态度恶劣", "快递把包裹压坏了", "快递信息不更新", "快递送错地址"],
}
PREFIXES = ["刚买的笔记本", "这台电脑", "新手机", "收到的平板", "买的机器"]
SUFFIXES = ["，太失望了", "，要求处理", "！", "，非常不满意", "。"]


def tiny_corpus(per_theme: int = 25) -> tuple[list[str], list[str]]:
    """Texts and their theme, interleaved so no theme sits in one block."""
    by_theme = {}
    for theme, issues in THEMES.items():
        combos = itertools.product(issues, PREFIXES, SUFFIXES)
        by_theme[theme] = [f"{p}{i}{s}" for i, p, s in itertools.islice(combos, 0, None, 3)][:per_theme]
    texts, labels = [], []
    for row in zip(*by_theme.values(), strict=True):
        for theme, text in zip(by_theme, row, strict=True):
            texts.append(text)
            labels.append(theme)
    return texts, labels


ISSUE_OF_THEME = {"screen": ["product_quality"], "battery": ["product_quality", "safety_hazard"],
                  "delivery": ["logistics"]}
