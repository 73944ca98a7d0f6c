"""Everything the API process holds for its lifetime, built once in the lifespan and injected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import anyio

from inference.auth import KeyStore
from inference.idempotency import IdempotencyStore
from inference.model_store import ModelStore
from inference.observability import Metrics
from inference.ratelimit import RateLimiter
from inference.storage.engine import Database
from models.settings import Settings


@dataclass
class Services:
    settings: Settings
    store: ModelStore
    db: Database
    keys: KeyStore
    limiter: RateLimiter
    idempotency: IdempotencyStore
    metrics: Metrics = field(default_factory=Metrics)
    # Called inside the transaction that stores a classified batch (e.g. to write outbox events).
    record_hooks: list = field(default_factory=list)
    # Bounds the threads that run classification at once (anyio's default pool allows 40). Under a burst,
    # 40 threads sharing the GIL each finish late; a few threads finish in turn and the others queue.
    inference_limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(4))

    @classmethod
    def build(cls, settings: Settings, store: ModelStore | None = None, metrics: Metrics | None = None) -> Services:
        db = Database(settings.database_url, migrate=settings.auto_migrate,
                      checkpoint_interval_s=settings.sqlite_checkpoint_interval_s)
        hooks = []
        if settings.ticketing_connector and settings.ticketing_push_triage:
            from inference.triage_events import make_triage_hook

            hooks.append(make_triage_hook(settings))
        return cls(
            settings=settings,
            store=store or ModelStore(settings),
            db=db,
            keys=KeyStore(db),
            limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
            idempotency=IdempotencyStore(db, timedelta(hours=settings.idempotency_ttl_hours)),
            metrics=metrics or Metrics(),
            record_hooks=hooks,
            inference_limiter=anyio.CapacityLimiter(settings.inference_threads),
        )
