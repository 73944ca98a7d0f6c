"""Holds the served champion model and swaps it when ``@champion`` moves.

A request takes a reference to ``store.current`` once, at its start, and uses that object to the end,
so a reload (which only rebinds ``current`` after the new model is fully loaded) never fails or mixes
versions within a request in flight.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from models.pyfunc import FeedbackAnalyzerModel
from models.settings import Settings

log = logging.getLogger(__name__)


WARM_UP_ITEMS = [
    {"id": "warm-up-1", "text": "充电宝用了两天就鼓包发烫，客服一直不回复！！我要投诉", "channel": "chat", "contact_count": 2},
    {"id": "warm-up-2", "text": "快递很快，包装完好，请问怎么开发票？"},
]


@dataclass
class LoadedModel:
    version: str
    model: FeedbackAnalyzerModel

    def classify(self, items: list[dict] | pd.DataFrame) -> list[dict]:
        if isinstance(items, pd.DataFrame):
            return self.model.predict_records(items)
        return self.model.predict_items(items)


class ModelStore:
    """Loads ``models:/<name>@<alias>``; ``current`` is None until a model is loaded."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.current: LoadedModel | None = None
        self.error: str | None = None
        self.on_change: list[Callable[[LoadedModel], None]] = []
        self._lock = threading.Lock()

    def champion_version(self) -> str:
        from mlflow import MlflowClient

        from training.tracking import use_store

        use_store(self.settings)
        mv = MlflowClient().get_model_version_by_alias(self.settings.registered_model_name,
                                                       self.settings.champion_alias)
        return str(mv.version)

    def _load_version(self, version: str) -> LoadedModel:
        import mlflow

        pyfunc = mlflow.pyfunc.load_model(f"models:/{self.settings.registered_model_name}/{version}")
        model = pyfunc.unwrap_python_model()
        model.model_version = version
        loaded = LoadedModel(version=version, model=model)
        # Score once before serving: the first call pays for lazy set-up (tokenizer dictionaries, numpy and
        # scipy code paths) that otherwise lands on the first real requests, and a model that cannot score
        # fails here, so the old champion keeps serving.
        loaded.classify(WARM_UP_ITEMS)
        return loaded

    def load(self) -> LoadedModel | None:
        """Load the champion now; on failure keep serving what is loaded and report the error."""
        with self._lock:
            try:
                version = self.champion_version()
                if self.current is None or self.current.version != version:
                    loaded = self._load_version(version)
                    previous, self.current = self.current, loaded  # one atomic rebind
                    log.info("serving %s version %s", self.settings.registered_model_name, version,
                             extra={"previous_version": previous.version if previous else None})
                    for callback in self.on_change:
                        callback(loaded)
                self.error = None
            except Exception as exc:  # the API stays up and reports not-ready instead of crashing
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("model not loaded: %s", self.error)
            return self.current

    async def watch(self, interval_s: float) -> None:
        """Background task of the API: look for a new champion every ``interval_s`` seconds."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.load)
            except Exception:  # never let the watcher die
                log.exception("model reload check failed")
