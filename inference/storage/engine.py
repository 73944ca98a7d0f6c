"""Engine and session factory, and schema upgrades through Alembic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000


class StorageBusy(Exception):
    """A no-wait transaction found the database locked; nothing was written."""


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, autocheckpoint: bool = True) -> Engine:
    """SQLite gets WAL and a busy timeout so the API and a dispatcher process can share the file.

    ``autocheckpoint=False`` leaves WAL checkpoints to a :class:`WalCheckpointer`; otherwise SQLite runs
    one inside whichever commit crosses 1,000 WAL pages, and that commit pays for copying pages and
    an fsync (15-25 ms here), which made the API's p99 latency.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            if not autocheckpoint:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


_SQLITE_LOCKS: dict[str, threading.RLock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def sqlite_lock(url: str) -> threading.RLock:
    """One lock per SQLite file and process.

    SQLite admits one writer at a time. Threads that race for it meet SQLite's busy handler, which
    sleeps and retries with growing back-off; under load that turned 6 ms API requests into
    100-1000 ms ones, and the slower requests piled up more contenders. Queueing on a Python lock
    instead hands the file to the next thread the moment the previous transaction ends. Other
    processes on the same file (a dispatcher, the CLI) still meet the busy timeout.
    """
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(url, threading.RLock())


class WalCheckpointer:
    """Runs SQLite's WAL checkpoints in a background thread, off the request path.

    PASSIVE checkpoints neither wait for nor block readers and writers; other processes on the same
    file keep SQLite's automatic checkpoints, so the WAL cannot grow without bound if this process stops.
    """

    def __init__(self, engine: Engine, interval_s: float):
        self.engine = engine
        self.interval_s = interval_s
        self.last: tuple[int, int, int] | None = None  # the background thread's latest result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def checkpoint(self) -> tuple[int, int, int]:
        """(busy, WAL frames, frames checkpointed), as SQLite reports them."""
        with self.engine.connect() as conn:
            return tuple(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one())

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.last = self.checkpoint()
            except Exception:  # a failed checkpoint is retried next time; never kill the thread
                log.warning("WAL checkpoint failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            self.checkpoint()
        except Exception:
            log.warning("final WAL checkpoint failed", exc_info=True)


class Database:
    """One engine and session factory per process.

    ``checkpoint_interval_s`` (SQLite only): checkpoint the WAL from a background thread every so many
    seconds instead of inside commits; for long-running processes such as the API.
    """

    def __init__(self, url: str, migrate: bool = True, checkpoint_interval_s: float | None = None):
        self.url = url
        sqlite = url.startswith("sqlite")
        background = bool(sqlite and checkpoint_interval_s and checkpoint_interval_s > 0)
        self.engine = make_engine(url, autocheckpoint=not background)
        self._serialize = sqlite_lock(url) if sqlite else None
        if migrate:
            with self._serialize or nullcontext():
                upgrade(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.checkpointer = WalCheckpointer(self.engine, checkpoint_interval_s).start() if background else None

    @property
    def can_write_without_waiting(self) -> bool:
        """Whether ``session(wait=False)`` can ever succeed (SQLite only)."""
        return self._serialize is not None

    @contextmanager
    def session(self, wait: bool = True) -> Iterator[Session]:
        """A transaction: commit on success, roll back on error (serialized per process on SQLite).

        ``wait=False`` (SQLite) never blocks: if another thread or process holds the database it raises
        :class:`StorageBusy` with nothing written, so a caller on the event loop can retry the same work
        in a worker thread. On other databases it always raises ``StorageBusy``.
        """
        if wait:
            with self._serialize or nullcontext(), self.sessions() as s, s.begin():
                yield s
            return
        if self._serialize is None or not self._serialize.acquire(blocking=False):
            raise StorageBusy("the database is in use; retry with wait=True")
        try:
            with self.sessions() as s:
                dbapi = s.connection().connection.dbapi_connection
                dbapi.execute("PRAGMA busy_timeout=0")  # another process's lock: fail now, not in 30 s
                try:
                    yield s
                    s.commit()
                except OperationalError as exc:
                    s.rollback()
                    if "locked" in str(exc) or "busy" in str(exc):
                        raise StorageBusy(str(exc)) from exc
                    raise
                except BaseException:
                    s.rollback()
                    raise
                finally:
                    dbapi.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            self._serialize.release()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()
