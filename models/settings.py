"""The service's one configuration object.

It lives in ``models`` because every other package (training, inference, pipelines) imports it and
``models`` is the bottom layer. Nothing is read at import time: call :func:`get_settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", env_file=".env", extra="ignore")

    # MLflow
    tracking_uri: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}",
        description="MLflow tracking/registry store.",
    )
    artifact_root: Path = Field(default=REPO_ROOT / "mlruns" / "artifacts")
    experiment_name: str = "feedback-analyzer"
    registered_model_name: str = "feedback-analyzer"
    champion_alias: str = "champion"

    # Data
    data_dir: Path = REPO_ROOT / "data"
    database_url: str = Field(default=f"sqlite:///{REPO_ROOT / 'var' / 'feedback.db'}")

    # Serving
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_items: int = 256
    max_text_chars: int = 5000

    # Training
    seed: int = 42
    backend: str = Field(default="tfidf", description="tfidf (fast default) or transformer")
    base_model: Path | None = Field(default=None, description="Local Hugging Face checkpoint for the transformer backend")
    transformer_epochs: int = 2

    @property
    def taxonomy_path(self) -> Path:
        return self.data_dir / "taxonomy.yaml"

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.registered_model_name}@{self.champion_alias}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
