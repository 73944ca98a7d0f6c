"""The service's one configuration object.

It lives in ``models`` because every other package (training, inference, pipelines) imports it and
``models`` is the bottom layer. Nothing is read at import time: call :func:`get_settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    sqlite_checkpoint_interval_s: float = Field(
        default=1.0, ge=0, description="API on SQLite: checkpoint the WAL in a background thread this often "
                                       "instead of inside a request's commit; 0 = SQLite's automatic checkpoints.")

    # Serving
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_items: int = 256
    max_text_chars: int = 5000
    max_body_bytes: int = Field(default=4_000_000, description="Larger request bodies get 413 before parsing.")
    auth_enabled: bool = Field(default=True, description="Require API keys (off only for local experiments).")
    rate_limit_per_minute: int = Field(default=6000, description="Per API key unless the key sets its own.")
    rate_limit_burst: int = Field(default=200, description="Requests a key may send at once before throttling.")
    idempotency_ttl_hours: float = 24.0
    inference_threads: int = Field(default=4, ge=1, description="Requests that run the model at once; the "
                                   "rest wait without a thread. More threads only contend for the GIL.")
    inline_max_chars: int = Field(default=2000, ge=0, description="On SQLite, batches with at most this many "
                                  "characters are scored on the event loop, skipping the thread hand-off; 0 = never.")
    store_classifications: bool = Field(default=True, description="Keep every (masked) classification.")
    model_reload_interval_s: float = Field(default=30.0, description="How often to look for a new @champion; 0 = never.")
    metrics_require_auth: bool = Field(default=False, description="Ask for a read-scope key on /metrics.")
    log_format: str = Field(default="json", description="json or text")
    log_level: str = "INFO"
    auto_migrate: bool = Field(default=True, description="Run Alembic upgrades when the API starts.")

    # Ticketing (secrets come from the environment or a secrets directory, never from code or logs)
    ticketing_connector: str | None = Field(default=None, description="rt, zendesk, jira, freshdesk, webhook; "
                                                                     "unset = push nothing")
    ticketing_push_triage: bool = True
    ticketing_min_priority: str = Field(default="P4", description="Push triage for this priority and above.")
    outbound_allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])
    dispatch_in_api: bool = Field(default=False, description="Run the outbox dispatcher inside the API process.")
    dispatch_max_attempts: int = 8
    dispatch_base_delay_s: float = 2.0
    dispatch_max_delay_s: float = 600.0
    dispatch_lease_s: float = 60.0
    dashboard_base_url: str = "http://127.0.0.1:8000"
    rt_url: str = "http://127.0.0.1:8085/rt"
    rt_token: SecretStr | None = None
    rt_triage_queue: str = "Support"
    rt_defects_queue: str = "Defects"
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_token: SecretStr | None = None
    zendesk_custom_field_ids: dict[str, int] = Field(default_factory=dict)
    jira_url: str | None = None
    jira_email: str | None = None
    jira_token: SecretStr | None = None
    jira_project_key: str | None = None
    jira_alert_project_key: str | None = None
    freshdesk_url: str | None = None
    freshdesk_api_key: SecretStr | None = None
    freshdesk_requester_email: str | None = None
    webhook_url: SecretStr | None = None
    webhook_secret: SecretStr | None = None

    # Training
    seed: int = 42
    backend: str = Field(default="tfidf", description="tfidf (fast default), fused (TF-IDF + sentence embeddings) "
                         "or transformer")
    fusion_embedding: str = Field(default="e5", description="Sentence-embedding backend of the fused backend: e5, "
                                  "use or tfidf-svd")
    fusion_weight: float = Field(default=0.5, ge=0.0, le=1.0,
                                 description="Weight of the embedding heads in the fused backend")
    base_model: Path | None = Field(default=None, description="Local Hugging Face checkpoint for the transformer backend")
    tuning_folds: int | None = Field(
        default=None, ge=0, description="Tune issue thresholds and urgency cuts on out-of-fold predictions "
        "over train+val with this many folds (0 = on the val split); unset = 5 for tfidf, 0 for the others")
    stacking: bool = Field(
        default=True, description="Decide issue types, sentiment and urgency with a second stage over every "
        "head's out-of-fold outputs (models/stacking.py). Needs out-of-fold tuning (tuning_folds ≥ 2)")
    stacking_cues: bool = Field(
        default=True, description="The second stage also reads one 0/1 feature per cue of the taxonomy "
        "(safety, legal_threat, …): a cue pools rare words the n-gram heads learn weakly")
    stacking_length: bool = Field(
        default=True, description="The second stage's urgency also reads the length of the text: short texts "
        "the heads know little about were lifted to P1 (models/stacking.py)")
    stacking_urgency_texts: Literal["real", "all"] = Field(
        default="real", description="Texts the second stage's urgency learns from: the real dev texts only (as "
        "its issue types and sentiment do), or all of them, authored included (models/stacking.py). `all` was "
        "the default while the authored texts were chat complaints only; with the authored reviews in the "
        "first stage it cost real critical recall in nested CV (0.910 -> 0.881)")
    stacking_issue_texts: Literal["real", "contrast", "all"] = Field(
        default="all", description="Texts the second stage's issue types learn from: every dev text, authored "
        "included (the default since 2026-12-08), the real ones with the contrast sets', or the real ones only. "
        "With the harm cues of guideline R14 `real` let the safety cue decide alone: authored safety_hazard "
        "recall 0.868 -> 0.682 in nested CV, where `all` gives 0.949 and the best real issue micro-F1 "
        "(models/stacking.py)")
    stacking_urgency_blind_labels: list[str] = Field(
        default=["safety_hazard"], description="Issue types the second stage decides without the urgency "
        "head's output (JSON list; [] = every type reads it, as before 2026-12-07, when threats that made a "
        "text critical read as safety_hazard; models/stacking.py)")
    stacking_urgency_blind_cues: list[str] = Field(
        default=["legal_threat", "media_threat"], description="Cues of the taxonomy those issue types are also "
        "decided without (JSON list): a threat says how urgent a text is, not what went wrong; learning from the "
        "authored texts the stage had weighed the threat cues for safety_hazard (models/stacking.py)")
    issue_loss: Literal["logistic", "hinge"] = Field(
        default="hinge", description="Issue-type classifiers of the tfidf backend: linear SVMs whose margin is "
        "read as a logit, or logistic regressions (models/heads.py; nested dev CV: issue macro-F1 0.608 vs 0.589). "
        "The SVMs' scores are calibrated by the second stage; without it they are scores, not probabilities")
    issue_C: float | None = Field(
        default=None, gt=0, description="Inverse regularisation of the issue-type classifiers; unset = 4.0 for "
        "logistic, 1.0 for hinge")
    training_jobs: int | None = Field(
        default=None, ge=1, description="Processes for the out-of-fold and final fits, which are independent "
        "(same models as one process); unset = one per CPU core for tfidf, 1 for the others")
    urgency_betas: tuple[float, float, float] = Field(
        default=(6.0, 3.0, 1.0), description="F-beta weights of recall for the critical, high-or-above and "
        "medium-or-above urgency cuts: higher catches more urgent texts and marks more tickets P1/P2")
    urgency_critical_share: float = Field(
        default=0.10, ge=0.0, lt=1.0, description="Share of texts made critical (P1), counted after the escalation "
        "rules on the out-of-fold tuning texts, that sets the critical cut; 0 = the F-beta of urgency_betas' first "
        "weight instead. A share is a budget operators can plan for and is estimated far more stably than the "
        "arg-max of the flat F-beta (models.analyzer.tune_urgency_cuts)")
    urgency_high_share: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Share of texts made high or critical (P1 + P2), counted after "
        "the escalation rules on the out-of-fold tuning texts, that sets the high-or-above cut; 0 = the F-beta of "
        "urgency_betas' second weight instead, whose cut is stable (models.analyzer.URGENCY_HIGH_SHARE)")
    transformer_epochs: int = 2
    gate_min_examples: int = Field(
        default=200, ge=0, description="Fewest test texts, unseen by both the candidate and the champion, the "
        "champion gate decides on when texts had to be left out; below it only --force promotes")
    transformer_freeze_embeddings: bool = Field(
        default=True, description="Keep the transformer's word-embedding table fixed while fine-tuning (CPU cost)")

    @property
    def taxonomy_path(self) -> Path:
        return self.data_dir / "taxonomy.yaml"

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.registered_model_name}@{self.champion_alias}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Environment (``FEEDBACK_*``) and ``.env``; secrets may also be files named like their variable
    (``feedback_rt_token``, ``feedback_zendesk_token``, …) in the directory ``FEEDBACK_SECRETS_DIR``
    points to (e.g. a mounted Kubernetes or Docker secret)."""
    secrets_dir = os.environ.get("FEEDBACK_SECRETS_DIR")
    return Settings(_secrets_dir=secrets_dir) if secrets_dir else Settings()
