"""Reading feedback tables from CSV, JSONL or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OPTIONAL_COLUMNS = ("id", "product_id", "channel", "created_at")


def read_feedback(path: Path) -> pd.DataFrame:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix in (".jsonl", ".ndjson"):
        frame = pd.read_json(path, lines=True, dtype=False)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise ValueError(f"{path.name}: unsupported input format {suffix!r}; use .csv, .jsonl or .parquet")
    if "text" not in frame.columns:
        raise ValueError(f"{path.name}: needs a 'text' column; found {list(frame.columns)}")
    if "id" not in frame.columns:
        frame["id"] = [str(i + 1) for i in range(len(frame))]
    frame["id"] = frame["id"].astype(str)
    frame["text"] = frame["text"].fillna("").astype(str)
    return frame
