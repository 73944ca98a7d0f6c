"""``Idempotency-Key``: a retried request returns the stored response instead of classifying (and
storing, and pushing to ticketing) twice. Keys are scoped to the API key that used them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from inference.storage.engine import Database
from inference.storage.tables import IdempotencyRecord

IN_FLIGHT = 0
STALE_IN_FLIGHT = timedelta(minutes=2)  # a crashed request's claim expires after this


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


class IdempotencyConflict(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def request_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyStore:
    def __init__(self, db: Database, ttl: timedelta):
        self.db = db
        self.ttl = ttl

    def claim(self, principal_id: str, key: str, fingerprint: str, wait: bool = True) -> Replay | None:
        """Replay of a finished request, None after claiming the key for this request, or raise
        ``IdempotencyConflict`` (409 in flight elsewhere, 422 same key with a different body).
        ``wait=False``: see ``Database.session`` (raises ``StorageBusy`` with nothing claimed)."""
        now = datetime.now(UTC)
        with self.db.session(wait) as s:
            row = s.get(IdempotencyRecord, (principal_id, key))
            if row is not None:
                created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
                expired = now - created > self.ttl
                stale = row.status_code == IN_FLIGHT and now - created > STALE_IN_FLIGHT
                if not (expired or stale):
                    if row.status_code == IN_FLIGHT:
                        raise IdempotencyConflict(409, "a request with this Idempotency-Key is still in progress")
                    if row.request_hash != fingerprint:
                        raise IdempotencyConflict(
                            422, "Idempotency-Key was already used with a different request body")
                    return Replay(row.status_code, row.response_body or "")
                s.delete(row)
                s.flush()
        try:
            with self.db.session(wait) as s:
                s.add(IdempotencyRecord(api_key_id=principal_id, key=key, request_hash=fingerprint,
                                        status_code=IN_FLIGHT, created_at=now))
        except IntegrityError:
            raise IdempotencyConflict(409, "a request with this Idempotency-Key is still in progress") from None
        return None

    @staticmethod
    def complete(session, principal_id: str, key: str, status_code: int, body: str) -> None:
        """Store the response inside the caller's transaction (with the classifications it describes)."""
        row = session.get(IdempotencyRecord, (principal_id, key))
        if row is not None:
            row.status_code = status_code
            row.response_body = body

    def release(self, principal_id: str, key: str) -> None:
        """Drop an in-flight claim after a failure, so the client can retry with the same key."""
        with self.db.session() as s:
            s.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.api_key_id == principal_id, IdempotencyRecord.key == key,
                IdempotencyRecord.status_code == IN_FLIGHT))

    def purge_expired(self) -> int:
        cutoff = datetime.now(UTC) - self.ttl
        with self.db.session() as s:
            return s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)).rowcount
