"""API keys with scopes.

A key looks like ``fbk_<id>_<secret>``. Only SHA-256(key) is stored: keys are 190-bit random strings,
so a fast hash is safe (there is nothing to brute-force), and it keeps verification off the latency
budget. Revocation takes effect within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from inference.storage.engine import Database
from inference.storage.tables import ApiKey

SCOPES = ("classify", "read", "admin")
PREFIX = "fbk"
CACHE_SECONDS = 5.0
NEEDS_LOOKUP = object()  # authenticate_cached: the answer needs a database read


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Principal(key_id="-", name="anonymous (auth disabled)", scopes=frozenset(SCOPES))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key_id(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; known: {list(SCOPES)}")
    if not scopes:
        raise ValueError("a key needs at least one scope")
    return [s for s in SCOPES if s in scopes]


class KeyStore:
    def __init__(self, db: Database):
        self.db = db
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, scopes: list[str], rate_limit_per_minute: int | None = None) -> tuple[str, ApiKey]:
        """Returns the full key (shown once) and its stored row."""
        scopes = validate_scopes(scopes)
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        row = ApiKey(id=key_id, name=name, key_hash=hash_key(key), scopes=" ".join(scopes),
                     rate_limit_per_minute=rate_limit_per_minute, created_at=datetime.now(UTC))
        with self.db.session() as s:
            s.add(row)
        return key, row

    def add_existing(self, name: str, key: str, scopes: list[str],
                     rate_limit_per_minute: int | None = None) -> ApiKey:
        """Register a key generated elsewhere (e.g. by a secrets manager, or already configured in a
        ticketing system's scrip). It must have our format and at least 16 characters of secret."""
        scopes = validate_scopes(scopes)
        key_id = parse_key_id(key)
        if key_id is None or len(key.split("_", 2)[2]) < 16 or not key_id.isalnum() or len(key_id) > 32:
            raise ValueError(f"a key must look like {PREFIX}_<id>_<secret of 16+ characters>")
        row = ApiKey(id=key_id, name=name, key_hash=hash_key(key), scopes=" ".join(scopes),
                     rate_limit_per_minute=rate_limit_per_minute, created_at=datetime.now(UTC))
        with self.db.session() as s:
            if s.get(ApiKey, key_id) is not None:
                raise ValueError(f"key id {key_id} already exists")
            s.add(row)
        return row

    def list(self) -> list[ApiKey]:
        with self.db.session() as s:
            return list(s.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    def revoke(self, key_id: str) -> bool:
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = datetime.now(UTC)
        with self._lock:
            self._cache.pop(key_id, None)
        return True

    def active_count(self) -> int:
        return sum(1 for k in self.list() if k.revoked_at is None)

    def authenticate_cached(self, key: str) -> Principal | None | object:
        """Like :meth:`authenticate` but never touches the database: ``NEEDS_LOOKUP`` when the key is not
        cached or its entry expired. Lets the async API answer most requests without a thread hop, and
        send only the lookups to the thread pool so they never block the event loop."""
        key_id = parse_key_id(key)
        if key_id is None:
            return None
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is None or time.monotonic() - hit[0] > CACHE_SECONDS:
            return NEEDS_LOOKUP
        return self._check(hit[1], key)

    def authenticate(self, key: str) -> Principal | None:
        """The key's principal, or None for an unknown, malformed or revoked key (constant-time compare).
        Blocking: reads the database when the key's cache entry is missing or expired."""
        cached = self.authenticate_cached(key)
        if cached is not NEEDS_LOOKUP:
            return cached
        key_id = parse_key_id(key)
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            record = None if row is None or row.revoked_at is not None else (row.key_hash, Principal(
                key_id=row.id, name=row.name, scopes=row.scope_set, rate_limit_per_minute=row.rate_limit_per_minute))
        with self._lock:
            self._cache[key_id] = (time.monotonic(), record)
        return self._check(record, key)

    @staticmethod
    def _check(record: tuple[str, Principal] | None, key: str) -> Principal | None:
        if record is None:
            return None
        stored_hash, principal = record
        return principal if hmac.compare_digest(stored_hash, hash_key(key)) else None
