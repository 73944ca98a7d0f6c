"""The MLflow pyfunc wrapper: the one entry point every consumer uses to score text.

Input: a DataFrame with a ``text`` column and optional ``id``, ``product_id``, ``channel``,
``created_at`` and the ticket context ``customer_tier``, ``contact_count``, ``order_value`` that the
priority policy reads. Output: a DataFrame with one row per input, columns ``id`` and ``result`` where
``result`` is the result object serialised as JSON — a flat string column keeps the schema stable for
any engine (pandas, Spark UDFs, the REST scoring server).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from models.analyzer import AnalyzerBase, load_analyzer
from models.policy import TicketContext
from models.results import build_results
from models.taxonomy import Taxonomy, load_taxonomy

ANALYZER_ARTIFACT = "analyzer"
TAXONOMY_ARTIFACT = "taxonomy"
INPUT_COLUMNS = ("id", "text", "product_id", "channel", "created_at", "customer_tier", "contact_count",
                 "order_value")
_COLUMN_TYPES = {"contact_count": "long", "order_value": "double"}


def signature():
    """``text`` is required; ``id`` and the ticket context columns are optional."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [ColSpec("string", "id", required=False), ColSpec("string", "text")]
        + [ColSpec(_COLUMN_TYPES.get(c, "string"), c, required=False) for c in INPUT_COLUMNS[2:]]
    )
    outputs = Schema([ColSpec("string", "id"), ColSpec("string", "result")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class FeedbackAnalyzerModel(mlflow.pyfunc.PythonModel):
    def __init__(self, analyzer: AnalyzerBase | None = None, taxonomy: Taxonomy | None = None):
        self.analyzer = analyzer
        self.taxonomy = taxonomy
        # The registry version is not known inside the artifact; whoever loads it from the registry sets it.
        self.model_version: str | None = None

    def load_context(self, context) -> None:
        self.analyzer = load_analyzer(Path(context.artifacts[ANALYZER_ARTIFACT]))
        self.taxonomy = load_taxonomy(Path(context.artifacts[TAXONOMY_ARTIFACT]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        results = self.predict_records(model_input)
        return pd.DataFrame(
            {"id": [r["id"] for r in results], "result": [json.dumps(r, ensure_ascii=False) for r in results]}
        )

    def predict_records(self, frame: pd.DataFrame) -> list[dict]:
        """Same as ``predict`` but returns Python dicts, for in-process callers."""
        if "text" not in frame.columns:
            raise ValueError("input needs a 'text' column")
        return self.predict_items(frame.to_dict("records"))

    def predict_items(self, items: list[dict]) -> list[dict]:
        """The one scoring path: items are dicts with the input columns (missing/NaN = absent).
        The API calls this directly, skipping a DataFrame round trip that cost more than the model."""
        if self.analyzer is None or self.taxonomy is None:
            raise RuntimeError("model is not loaded")
        if not items:
            return []

        def present(v) -> bool:
            return v is not None and v == v  # NaN != NaN

        texts = [str(it["text"]) if present(it.get("text")) else "" for it in items]
        ids = [str(it["id"]) if present(it.get("id")) else str(n) for n, it in enumerate(items)]
        contexts = [TicketContext.from_row(it) for it in items]
        created = [it.get("created_at") for it in items]
        return build_results(ids, texts, self.analyzer.predict_outputs(texts, explain=True), self.taxonomy,
                             contexts=contexts, created_at=created,
                             model_version=getattr(self, "model_version", None))


def unwrap(pyfunc_model) -> FeedbackAnalyzerModel:
    """The Python model inside a loaded ``mlflow.pyfunc`` model, to call ``predict_records``."""
    return pyfunc_model.unwrap_python_model()
