"""Inter-annotator agreement between the first pass and the independent second pass."""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score, f1_score

from models.taxonomy import Taxonomy
from training.dataset import ADJUDICATION_FILE, REAL_LABELS_FILE, SECOND_PASS_FILE


def _by_id(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip())}


def first_pass(corpus_dir: Path) -> dict[str, dict]:
    """Pass-1 labels as annotated, i.e. before adjudication replaced some of them in the corpus."""
    labels = _by_id(Path(corpus_dir) / REAL_LABELS_FILE)
    adjudication = Path(corpus_dir) / ADJUDICATION_FILE
    if adjudication.exists():
        for rec in _by_id(adjudication).values():
            labels[rec["id"]] = {"id": rec["id"], **rec["pass1"], "round": labels.get(rec["id"], {}).get("round")}
    return labels


# Each group of annotation rounds that had its own second pass, as the data card reports them.
ROUND_GROUPS = {"agreement": ("rounds 1–2", {1, 2}), "agreement_r3": ("round 3", {3}),
                "agreement_r45": ("rounds 4–5", {4, 5})}


def agreement(corpus_dir: Path, taxonomy: Taxonomy, rounds: set[int] | None = None) -> dict[str, float]:
    """Agreement on the texts of ``rounds`` (all rounds if None) that both passes labelled."""
    first = first_pass(corpus_dir)
    second = _by_id(Path(corpus_dir) / SECOND_PASS_FILE)
    ids = sorted(i for i in set(first) & set(second) if rounds is None or first[i].get("round") in rounds)
    if not ids:
        raise ValueError(f"no items annotated in both passes (rounds {sorted(rounds) if rounds else 'all'})")
    out: dict[str, float] = {"n_items": float(len(ids))}
    for field in ("urgency", "sentiment"):
        a = [first[i][field] for i in ids]
        b = [second[i][field] for i in ids]
        out[f"{field}.kappa"] = float(cohen_kappa_score(a, b))
        out[f"{field}.raw_agreement"] = sum(x == y for x, y in zip(a, b, strict=True)) / len(ids)
    labels = taxonomy.issue_type_ids

    def binarize(recs):
        return [[int(lab in r["issue_types"]) for lab in labels] for r in recs]

    A = binarize([first[i] for i in ids])
    B = binarize([second[i] for i in ids])
    out["issue_types.micro_f1"] = float(f1_score(A, B, average="micro", zero_division=0))
    out["issue_types.exact_set_agreement"] = sum(
        set(first[i]["issue_types"]) == set(second[i]["issue_types"]) for i in ids
    ) / len(ids)
    for j, lab in enumerate(labels):
        a = [row[j] for row in A]
        b = [row[j] for row in B]
        if sum(a) + sum(b):
            out[f"issue_types.{lab}.f1"] = float(f1_score(a, b, zero_division=0))
            out[f"issue_types.{lab}.count_pass1"] = float(sum(a))
            out[f"issue_types.{lab}.count_pass2"] = float(sum(b))
    return out


def disagreements(corpus_dir: Path) -> list[dict]:
    first = first_pass(corpus_dir)
    second = _by_id(Path(corpus_dir) / SECOND_PASS_FILE)
    rows = []
    for i in sorted(set(first) & set(second)):
        a, b = first[i], second[i]
        row = {
            f: {"pass1": a[f], "pass2": b[f]}
            for f in ("issue_types", "urgency", "sentiment")
            if sorted(a[f]) != sorted(b[f])
        }
        if row:
            rows.append({"id": i, **row})
    return rows


def format_markdown(figures: dict[str, float]) -> str:
    """The agreement table as it appears in the data card (tests compare the two)."""
    rows = [
        "| field | measure | value |",
        "|---|---|---|",
        f"| items in both passes | count | {int(figures['n_items'])} |",
        f"| urgency | Cohen's κ | {figures['urgency.kappa']:.3f} |",
        f"| urgency | raw agreement | {figures['urgency.raw_agreement']:.3f} |",
        f"| sentiment | Cohen's κ | {figures['sentiment.kappa']:.3f} |",
        f"| sentiment | raw agreement | {figures['sentiment.raw_agreement']:.3f} |",
        f"| issue types | micro-F1 between passes | {figures['issue_types.micro_f1']:.3f} |",
        f"| issue types | exact same label set | {figures['issue_types.exact_set_agreement']:.3f} |",
    ]
    labels = sorted({k.split(".")[1] for k in figures if k.startswith("issue_types.") and k.endswith(".f1")})
    for lab in labels:
        if lab == "micro_f1":
            continue
        rows.append(
            f"| issue type {lab} | F1 between passes (n pass1/pass2) | {figures[f'issue_types.{lab}.f1']:.3f} "
            f"({int(figures[f'issue_types.{lab}.count_pass1'])}/{int(figures[f'issue_types.{lab}.count_pass2'])}) |"
        )
    return "\n".join(rows)
