"""`feedback keys …` and `feedback db …`: API keys and the service database, for operators."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

keys_app = typer.Typer(help="API keys (stored hashed; the secret is shown once)", no_args_is_help=True)
db_app = typer.Typer(help="The service database (SQLite by default, PostgreSQL by URL)", no_args_is_help=True)
console = Console()


def _keystore():
    from inference.auth import KeyStore
    from inference.storage.engine import Database
    from models.settings import get_settings

    return KeyStore(Database(get_settings().database_url))


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. 'zendesk-prod'")],
    scope: Annotated[list[str], typer.Option(help="classify, read, admin (repeat the option)")] = ["classify"],  # noqa: B006
    rate_limit: Annotated[int | None, typer.Option(help="Requests per minute (default: FEEDBACK_RATE_LIMIT_PER_MINUTE)")] = None,
) -> None:
    """Create a key and print it once."""
    try:
        key, row = _keystore().create(name, scope, rate_limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"created key [bold]{row.id}[/] ({row.name}; scopes: {row.scopes})")
    console.print("store it now; it cannot be shown again:")
    print(key)


@keys_app.command("import")
def import_key(
    name: Annotated[str, typer.Option(help="Who uses the key")],
    scope: Annotated[list[str], typer.Option(help="classify, read, admin (repeat the option)")] = ["classify"],  # noqa: B006
) -> None:
    """Register an existing key read from standard input (never from the command line, which ps shows)."""
    import sys

    try:
        row = _keystore().add_existing(name, sys.stdin.readline().strip(), scope)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"imported key [bold]{row.id}[/] ({row.name}; scopes: {row.scopes})")


@keys_app.command("list")
def list_keys() -> None:
    """Key ids, names, scopes and status (never the secrets)."""
    table = Table("id", "name", "scopes", "rate/min", "created", "status")
    for k in _keystore().list():
        table.add_row(k.id, k.name, k.scopes, str(k.rate_limit_per_minute or "default"),
                      k.created_at.strftime("%Y-%m-%d %H:%M"),
                      f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active")
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`")]) -> None:
    """Revoke a key; the API refuses it within seconds."""
    if not _keystore().revoke(key_id):
        console.print(f"[red]no active key {key_id}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("ensure-dev")
def ensure_dev(path: Annotated[Path, typer.Option(help="Where to keep the local key")] = Path("var/dev-api-key")) -> None:
    """For `make run` on a laptop: create one all-scopes key if the database has none, saved to PATH
    (mode 0600, git-ignored), and print where it is. Production keys are made with `keys create`."""
    store = _keystore()
    if path.exists() and store.authenticate(path.read_text().strip()) is not None:
        console.print(f"local API key: {path} (use: -H \"Authorization: Bearer $(cat {path})\")")
        return
    key, row = store.create("local-dev", ["classify", "read", "admin"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    console.print(f"created local API key {row.id} in {path} (use: -H \"Authorization: Bearer $(cat {path})\")")


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply Alembic migrations to FEEDBACK_DATABASE_URL (the API also does this on start)."""
    from inference.storage.engine import Database
    from models.settings import get_settings

    url = get_settings().database_url
    Database(url, migrate=True).dispose()
    console.print(f"database schema is current: {url.split('@')[-1]}")
