"""`feedback alerts`: detect complaint spikes and record defect alerts (cron-safe), list stored alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

alerts_app = typer.Typer(help="缺陷告警 defect alerts: spike detection per product × topic/issue type",
                         no_args_is_help=True)
err = Console(stderr=True)
out = Console()

SEVERITY_NAMES = {"critical": "严重", "major": "重要", "minor": "一般"}
STATUS_NAMES = {"new": "新告警", "acknowledged": "已确认", "resolved": "已解决"}
ACTION_NAMES = {"created": "新建", "updated": "更新", "refreshed": "刷新(同一窗口)", "skipped": "跳过(已解决)"}


def _settings():
    from models.settings import get_settings

    return get_settings()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


def _parse_end(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --end must be an ISO date or datetime, not {value!r}")
        raise typer.Exit(2) from exc


@alerts_app.command("run")
def run(
    input: Annotated[Path | None, typer.Option("--input", exists=True, dir_okay=False,
                                               help="CSV/JSONL/Parquet with text, product_id, created_at "
                                                    "(+ optional issue_types, sentiment); default: the stored "
                                                    "classifications")] = None,
    since: Annotated[float | None, typer.Option("--since", min=1, help="Look back this many days "
                                                "(default: window × (baseline windows + 1))")] = None,
    window_days: Annotated[int, typer.Option("--window-days", min=1, help="Window length in days")] = 7,
    alpha: Annotated[float, typer.Option(min=1e-12, max=0.5, help="Poisson test significance")] = 1e-3,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Smallest flagged window count "
                                           "(safety keys: 3)")] = 10,
    by: Annotated[str, typer.Option("--by", help="topic, issue_type or both")] = "both",
    topics_model_uri: Annotated[str | None, typer.Option("--topics-model-uri",
                                                         help="default: models:/feedback-topics@champion")] = None,
    end: Annotated[str | None, typer.Option(help="Exclusive end of the latest window, ISO date "
                                            "(default: the day after the newest event)")] = None,
    tz: Annotated[str, typer.Option(help="Time zone of the window boundaries")] = "Asia/Shanghai",
) -> None:
    """Detect spikes in the latest window and create/update alerts. Idempotent per window; exits 0."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from pipelines.alerts import AlertRunConfig, load_events_db, load_events_file, run_alerts

    try:
        ZoneInfo(tz)
        config = AlertRunConfig(window_days=window_days, since_days=since, end=_parse_end(end), by=by, alpha=alpha,
                                min_count=min_count, tz=tz, topics_model_uri=topics_model_uri)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    settings = _settings()
    with _progress() as progress:
        tasks: list = []

        def hook(description: str, total: int | None):
            if tasks:  # finish the previous stage's bar
                t = progress.tasks[-1]
                progress.update(tasks[-1], completed=t.total if t.total is not None else t.completed)
            task = progress.add_task(description, total=total)
            tasks.append(task)
            return lambda n: progress.advance(task, n)

        try:
            if input is not None:
                advance = hook(f"读取 {input.name}", 1)
                events = load_events_file(input, tz)
                advance(1)
            else:
                anchor = config.end.astimezone(UTC) if config.end and config.end.tzinfo else (
                    config.end.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC) if config.end else datetime.now(UTC))
                since_utc = anchor - config.lookback - timedelta(days=1)
                events = load_events_db(settings, tz, since_utc, progress=hook)
            report = run_alerts(settings, events, config, progress=hook)
        except (ValueError, RuntimeError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        hook("完成 done", 1)(1)

    for w in report.warnings:
        err.print(f"[yellow]warning:[/yellow] {w}")
    window = (f"{report.window_start:%Y-%m-%d} 至 {report.window_end - timedelta(seconds=1):%Y-%m-%d} ({tz})"
              if report.window_start else "—")
    det = ", ".join(f"{k}: {v}" for k, v in report.detections.items()) or "0"
    err.print(f"{report.n_events} 条事件 events, {report.n_complaints} 条投诉 complaints in range; "
              f"当前窗口 window {window}; 突增 detections {det}")
    if not report.results:
        out.print("没有新的或更新的告警 no alerts created or updated")
        return
    table = Table(title=f"缺陷告警 defect alerts ({len(report.results)})")
    for col in ("动作", "告警编号", "商品", "类型", "主题/问题", "严重度", "状态", "条数", "倍数", "工单事件"):
        table.add_column(col, justify="right" if col in ("条数", "倍数") else "left")
    for r in report.results:
        table.add_row(ACTION_NAMES.get(r.action, r.action), r.alert_id, r.product_id,
                      "主题" if r.key_kind == "topic" else "问题类型", f"{r.title} ({r.key})",
                      SEVERITY_NAMES.get(r.severity, r.severity), STATUS_NAMES.get(r.status, r.status),
                      str(r.count), f"×{r.ratio:.1f}", "已入队" if r.event_enqueued else "—")
    Console(width=max(out.width, 160)).print(table)


@alerts_app.command("list")
def list_alerts(
    product: Annotated[str | None, typer.Option(help="Only this product id")] = None,
    status: Annotated[str | None, typer.Option(help="new, acknowledged or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, major or minor")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Stored alerts: open first, then by severity, then newest activity."""
    from inference.alerting.store import AlertStore
    from inference.storage.engine import Database

    settings = _settings()
    db = Database(settings.database_url, migrate=settings.auto_migrate)
    try:
        rows = AlertStore(db, settings).list(product=product, status=status, severity=severity, limit=limit)
    finally:
        db.dispose()
    table = Table(title=f"缺陷告警 defect alerts ({len(rows)})")
    for col in ("告警编号", "商品", "主题/问题", "严重度", "状态", "条数", "基线", "窗口开始", "检测次数"):
        table.add_column(col)
    for a in rows:
        table.add_row(a.id, a.product_id, a.title, SEVERITY_NAMES.get(a.severity, a.severity),
                      STATUS_NAMES.get(a.status, a.status), str(a.count), f"{a.baseline:.1f}",
                      f"{a.window_start:%Y-%m-%d}", str(a.detections))
    Console(width=max(out.width, 160)).print(table)
