"""`feedback topics`: fit the defect-discovery topic model, assign topics to a file, print the report."""

from __future__ import annotations

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

topics_app = typer.Typer(help="主题发现 defect discovery (BERTopic)", no_args_is_help=True)
err = Console(stderr=True)
out = Console()


def _settings():
    from models.settings import get_settings

    return get_settings()


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


def _read(path: Path):
    from pipelines.io import read_feedback

    try:
        return read_feedback(path)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@topics_app.command("fit")
def fit(
    input: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV/JSONL/Parquet with 'text' (+ optional 'issue_types')")],
    backend: Annotated[str, typer.Option(help="Embedding backend: tfidf-svd (default), use, e5")] = "tfidf-svd",
    min_topic_size: Annotated[int, typer.Option(min=2, help="Smallest topic (HDBSCAN min_cluster_size)")] = 15,
    seed: Annotated[int | None, typer.Option(help="Random seed (default from settings)")] = None,
    promote: Annotated[bool, typer.Option("--promote/--no-promote", help="Move @champion to the new version")] = True,
) -> None:
    """Fit topics on INPUT, log to MLflow as feedback-topics and (by default) make it @champion."""
    from models.embeddings import BACKENDS
    from training.topics import fit_topics

    if backend not in BACKENDS:
        err.print(f"[red]error:[/red] unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}")
        raise typer.Exit(2)
    frame = _read(input)
    steps = ["fitting topics", "logging model", "deciding champion"]
    with _progress() as progress:
        task = progress.add_task(f"topics on {len(frame)} texts", total=len(steps))

        def step(msg: str) -> None:
            progress.update(task, description=msg, completed=steps.index(msg))

        result = fit_topics(_settings(), frame, backend=backend, min_topic_size=min_topic_size, seed=seed,
                            promote=promote, step=step, source=str(input))
        progress.update(task, completed=len(steps), description="done")
    rep = result.report
    out.print(f"run {result.run_id[:8]} → feedback-topics version {result.version}: "
              f"{rep['topic_count']} topics, outlier share {rep['outlier_share']:.1%}"
              + (" (promoted to @champion)" if result.promoted else " (not promoted)"))


@topics_app.command("assign")
def assign(
    input: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV/JSONL/Parquet with a 'text' column")],
    output: Annotated[Path, typer.Argument(dir_okay=False, help="JSONL output, one line per input row")],
    model_uri: Annotated[str | None, typer.Option(help="MLflow model URI (default: feedback-topics@champion)")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 2048,
) -> None:
    """Assign each row of INPUT to a topic (−1 = outlier); rows are written in input order."""
    import json

    from training.topics import load_topic_model

    frame = _read(input)
    tm = load_topic_model(_settings(), model_uri)
    names = {t["topic"]: t["name"] for t in tm.topic_info()}
    keep = [c for c in ("id", "product_id", "created_at") if c in frame.columns]
    with _progress() as progress, open(output, "w", encoding="utf-8") as fh:
        task = progress.add_task("assigning topics", total=len(frame))
        texts = frame["text"].tolist()
        for start in range(0, len(texts), batch_size):
            topics, sims = tm.transform(texts[start:start + batch_size])
            rows = frame.iloc[start:start + batch_size]
            for (_, row), t, s in zip(rows.iterrows(), topics, sims, strict=True):
                rec = {c: row[c] for c in keep}
                rec.update(topic=int(t), topic_name=names.get(int(t), ""), similarity=round(float(s), 4))
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
            progress.advance(task, len(rows))
    err.print(f"wrote {len(frame)} assignments to {output}")


@topics_app.command("report")
def report(
    model_uri: Annotated[str | None, typer.Option(help="MLflow model URI (default: feedback-topics@champion)")] = None,
    output: Annotated[Path | None, typer.Option(help="Also write the report as Markdown to this file")] = None,
    keywords: Annotated[int, typer.Option(min=1, help="Keywords shown per topic")] = 8,
) -> None:
    """Topic quality report: topic count, outlier share, top keywords per topic."""
    from models.topics import report_markdown
    from training.topics import load_topic_model

    tm = load_topic_model(_settings(), model_uri)
    rep = tm.quality_report()
    table = Table(title=f"{rep['topic_count']} 个主题 topics · 离群占比 outlier share {rep['outlier_share']:.1%} · "
                        f"{rep['n_docs']} 条 docs · backend {rep['backend']}")
    for col in ("主题", "名称", "文档数", "占比", "关键词", "问题类型"):
        table.add_column(col, justify="right" if col in ("主题", "文档数", "占比") else "left")
    for t in rep["topics"]:
        issues = "、".join(x["issue_type"] for x in t["issue_types"])
        table.add_row(str(t["topic"]), t["name"], str(t["size"]), f"{t['share']:.1%}",
                      " ".join(t["keywords"][:keywords]), issues)
    Console(width=max(out.width, 160)).print(table)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report_markdown(rep, keywords=keywords), encoding="utf-8")
        err.print(f"wrote {output}")
