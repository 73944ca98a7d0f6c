"""Holds the loaded champion model for the API process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel
from models.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    version: str
    model: FeedbackAnalyzerModel

    def classify(self, frame: pd.DataFrame) -> list[dict]:
        return self.model.predict_records(frame)


class ModelStore:
    """Loads ``models:/<name>@<alias>`` once; ``current`` is None until a model is loaded."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.current: LoadedModel | None = None
        self.error: str | None = None

    def load(self) -> LoadedModel | None:
        import mlflow
        from mlflow import MlflowClient

        from training.tracking import use_store

        use_store(self.settings)
        try:
            mv = MlflowClient().get_model_version_by_alias(
                self.settings.registered_model_name, self.settings.champion_alias
            )
            pyfunc = mlflow.pyfunc.load_model(f"models:/{self.settings.registered_model_name}/{mv.version}")
            self.current = LoadedModel(version=str(mv.version), model=pyfunc.unwrap_python_model())
            self.error = None
            log.info("loaded %s version %s", self.settings.registered_model_name, mv.version)
        except Exception as exc:  # the API stays up and reports not-ready instead of crashing
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("model not loaded: %s", self.error)
        return self.current
