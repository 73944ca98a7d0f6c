"""Batch scoring of a file with the champion (or any) model, streaming JSONL out in input order."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel


def score_frame(
    model: FeedbackAnalyzerModel,
    frame: pd.DataFrame,
    out_path: Path,
    batch_size: int = 512,
    advance: Callable[[int], None] | None = None,
) -> int:
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for start in range(0, len(frame), batch_size):
            chunk = frame.iloc[start : start + batch_size]
            for result in model.predict_records(chunk):
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                written += 1
            if advance:
                advance(len(chunk))
    return written
