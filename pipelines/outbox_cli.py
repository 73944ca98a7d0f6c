"""`feedback dispatch` and `feedback outbox …`: delivering ticketing events, for operators."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

outbox_app = typer.Typer(help="The ticketing outbox: inspect and retry events", no_args_is_help=True)
console = Console()


def _db():
    from inference.storage.engine import Database
    from models.settings import get_settings

    return Database(get_settings().database_url)


def dispatch(
    connector: Annotated[list[str] | None, typer.Option(help="Connector(s) to deliver for (default: configured)")] = None,
    until_idle: Annotated[bool, typer.Option(help="Exit when nothing is due instead of polling forever")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls when idle")] = 1.0,
) -> None:
    """Deliver outbox events to the ticketing system (retries with backoff; safe to run several)."""
    from inference.ticketing.factory import make_dispatcher
    from models.settings import get_settings

    settings = get_settings()
    db = _db()
    try:
        dispatcher = make_dispatcher(settings, db, connector)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    delivered = {"n": 0}

    def progress(n: int) -> None:
        delivered["n"] += n
        console.print(f"attempted {delivered['n']} events", highlight=False)

    console.print(f"dispatching for {sorted(dispatcher.connectors)} as {dispatcher.worker_id}")
    dispatcher.run(stop, poll_s=poll, until_idle=until_idle, progress=progress)


@outbox_app.command("list")
def list_events(
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """Newest outbox events with their status, attempts and last error."""
    from sqlalchemy import func, select

    from inference.storage.tables import OutboxEvent

    db = _db()
    with db.session() as s:
        counts = dict(s.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all())
        q = select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(limit)
        if status:
            q = q.where(OutboxEvent.status == status)
        rows = list(s.scalars(q))
    console.print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "outbox is empty")
    table = Table("id", "kind", "connector", "subject", "status", "attempts", "ticket", "next attempt", "last error")
    for e in rows:
        table.add_row(str(e.id), e.kind, e.connector, e.subject_id, e.status, str(e.attempts), e.external_id or "",
                      e.next_attempt_at.strftime("%m-%d %H:%M:%S") if e.status == "pending" else "",
                      (e.last_error or "")[:60])
    console.print(table)


@outbox_app.command("retry")
def retry(
    event_id: Annotated[list[int] | None, typer.Argument(help="Dead event ids (default: all dead events)")] = None,
) -> None:
    """Move dead-lettered events back to pending with a fresh attempt budget."""
    from inference.outbox import retry_dead

    n = retry_dead(_db(), event_id or None)
    console.print(f"{n} event(s) back to pending")
