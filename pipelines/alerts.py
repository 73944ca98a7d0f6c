"""Defect-alert job: complaints → product × topic/issue-type counts → spikes → stored alerts.

Events come from a file (CSV/JSONL/Parquet with ``text``, ``product_id``, ``created_at`` and optionally
``issue_types``, ``sentiment``) or from the stored ``classifications`` table (masked text, product,
created_at and the stored result). Only complaints count: negative sentiment or at least one issue type
(file rows without either column are all taken as complaints).

Keys: ``topic`` keys are the ``feedback-topics`` champion's topic ids (outliers, −1, are never a key);
``issue_type`` keys are the issue types of each complaint (a text with two types counts for both).
Safety keys (small volume floor, looser alpha, always critical): ``safety_hazard`` and every topic the
topic model maps to ``safety_hazard``.

Windows are whole days in ``tz`` (default Asia/Shanghai): the latest window ends at ``end`` (default the
day after the newest event) and the baselines are the windows before it. Re-running with the same data
gives the same window, so :class:`inference.alerting.store.AlertStore` refreshes the same alert and
enqueues nothing new: the job is safe to run from cron as often as wanted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference.alerting.spikes import SpikeConfig, SpikeDetection, detect_spikes
from inference.alerting.store import AlertStore, RecordResult
from models.settings import Settings

SAFETY_ISSUE = "safety_hazard"
BY_CHOICES = ("topic", "issue_type", "both")
EXAMPLES_PER_ALERT = 5
KEYWORDS_PER_ALERT = 8

# A progress hook: called with a description and a total (None = unknown), returns an "advance by n".
ProgressHook = Callable[[str, int | None], Callable[[int], None]]


def _no_progress(_description: str, _total: int | None) -> Callable[[int], None]:
    return lambda _n: None


@dataclass(frozen=True)
class AlertRunConfig:
    window_days: int = 7
    since_days: float | None = None  # default: enough for the baseline windows plus the current one
    end: datetime | None = None  # exclusive end of the latest window (default: day after the newest event)
    by: str = "both"
    alpha: float = SpikeConfig.alpha
    min_count: int = SpikeConfig.min_count
    min_ratio: float = SpikeConfig.min_ratio
    baseline_windows: int = SpikeConfig.baseline_windows
    tz: str = "Asia/Shanghai"
    topics_model_uri: str | None = None

    def __post_init__(self):
        if self.by not in BY_CHOICES:
            raise ValueError(f"--by must be one of {BY_CHOICES}, not {self.by!r}")
        if self.window_days < 1:
            raise ValueError("window_days must be >= 1")

    @property
    def lookback(self) -> timedelta:
        days = self.since_days if self.since_days is not None else self.window_days * (self.baseline_windows + 1)
        return timedelta(days=float(days))

    def spike_config(self, safety_keys: set[str]) -> SpikeConfig:
        return SpikeConfig(window=pd.Timedelta(days=self.window_days), alpha=self.alpha, min_count=self.min_count,
                           min_ratio=self.min_ratio, baseline_windows=self.baseline_windows,
                           min_baseline_windows=min(SpikeConfig.min_baseline_windows, self.baseline_windows),
                           safety_keys=frozenset(safety_keys))


@dataclass
class AlertRunReport:
    n_events: int
    n_complaints: int
    window_start: datetime | None = None
    window_end: datetime | None = None
    detections: dict[str, int] = field(default_factory=dict)
    results: list[RecordResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- loading
def _labels(value: Any) -> list[str]:
    """Issue types from a list, a JSON list string or an "a|b" / "a,b" string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip("[]")
        if isinstance(value, str):
            return [x.strip().strip("'\"") for x in re.split(r"[|,;，]\s*", value) if x.strip().strip("'\"")]
    if isinstance(value, list | tuple):
        out = []
        for x in value:
            if isinstance(x, dict):
                x = x.get("label") or x.get("id")
            if x:
                out.append(str(x))
        return out
    return []


def to_local_naive(values, tz: str, naive_is: str) -> pd.Series:
    """Timestamps converted to wall-clock time in ``tz`` (tz-naive); naive inputs are taken as ``naive_is``."""
    cache: dict[Any, pd.Timestamp] = {}

    def conv(v):
        if v in cache:
            return cache[v]
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError):
            ts = pd.NaT
        if ts is not pd.NaT and not pd.isna(ts):
            ts = (ts.tz_localize(naive_is) if ts.tzinfo is None else ts).tz_convert(tz).tz_localize(None)
        cache[v] = ts
        return ts

    return pd.Series([conv(v) for v in values], dtype="datetime64[ns]")


def load_events_file(path: Path, tz: str) -> pd.DataFrame:
    """A feedback file as events: text, product_id, timestamp (wall-clock in ``tz``), issue_types, complaint."""
    from pipelines.io import read_feedback

    frame = read_feedback(path)
    missing = [c for c in ("product_id", "created_at") if c not in frame.columns]
    if missing:
        raise ValueError(f"{Path(path).name}: alert input needs columns text, product_id, created_at; "
                         f"missing {missing}")
    issues = [_labels(v) for v in frame["issue_types"]] if "issue_types" in frame.columns else [[]] * len(frame)
    if "sentiment" in frame.columns or "issue_types" in frame.columns:
        sentiment = frame["sentiment"].fillna("").astype(str) if "sentiment" in frame.columns else pd.Series([""] * len(frame))
        complaint = [s.lower() == "negative" or bool(i) for s, i in zip(sentiment, issues, strict=True)]
    else:
        complaint = [True] * len(frame)
    return pd.DataFrame({
        "text": frame["text"].astype(str).to_numpy(),
        "product_id": frame["product_id"].to_numpy(),
        "timestamp": to_local_naive(frame["created_at"].tolist(), tz, naive_is=tz).to_numpy(),
        "issue_types": issues,
        "keywords": [[] for _ in range(len(frame))],
        "complaint": complaint,
    })


def load_events_db(settings: Settings, tz: str, since: datetime | None, progress: ProgressHook = _no_progress,
                   database=None) -> pd.DataFrame:
    """Stored classifications (masked) since ``since`` (UTC) as events; naive stored times are UTC."""
    from sqlalchemy import func, select

    from inference.storage.engine import Database
    from inference.storage.tables import Classification

    db = database or Database(settings.database_url, migrate=settings.auto_migrate)
    cols = (Classification.product_id, Classification.created_at, Classification.text_masked, Classification.result)
    where = [Classification.product_id.is_not(None)]
    if since is not None:
        where.append(Classification.created_at >= since)
    rows: dict[str, list] = {"text": [], "product_id": [], "created_at": [], "issue_types": [], "keywords": [],
                             "complaint": []}
    try:
        with db.session() as s:
            total = s.scalar(select(func.count()).select_from(Classification).where(*where)) or 0
            advance = progress("读取已存分类 loading stored classifications", int(total))
            for n, (product_id, created_at, text, result) in enumerate(
                    s.execute(select(*cols).where(*where).execution_options(yield_per=2000)), 1):
                result = result or {}
                issues = _labels(result.get("issue_types"))
                sentiment = (result.get("sentiment") or {}).get("label")
                rows["text"].append(text)
                rows["product_id"].append(product_id)
                rows["created_at"].append(created_at)
                rows["issue_types"].append(issues)
                rows["keywords"].append([str(k) for k in (result.get("keywords") or []) if k])
                rows["complaint"].append(sentiment == "negative" or bool(issues))
                if n % 2000 == 0:
                    advance(2000)
            advance(len(rows["text"]) % 2000)
    finally:
        if database is None:
            db.dispose()
    frame = pd.DataFrame(rows)
    frame["timestamp"] = to_local_naive(frame.pop("created_at").tolist(), tz, naive_is="UTC").to_numpy()
    return frame


# ---------------------------------------------------------------------------------------------- helpers
def _top_keywords(texts: list[str], given: list[list[str]], top: int = KEYWORDS_PER_ALERT) -> list[str]:
    """The result keywords most often given for these texts, else their most frequent content words."""
    counts: Counter = Counter(k for ks in given for k in dict.fromkeys(ks))
    if not counts:
        from models.embeddings import word_tokens
        from models.topics import default_stopwords

        stop = default_stopwords()
        for t in texts:
            counts.update({w for w in word_tokens(t) if len(w) >= 2 and w not in stop and not w.isdigit()})
    return [w for w, _ in counts.most_common(top)]


def _localize(d: SpikeDetection, tz: str) -> SpikeDetection:
    def utc(ts):
        return pd.Timestamp(ts).tz_localize(tz).tz_convert("UTC")

    return replace(d, window_start=utc(d.window_start), window_end=utc(d.window_end),
                   series=tuple((utc(s), c) for s, c in d.series))


def _issue_names(settings: Settings) -> dict[str, str]:
    try:
        from models.taxonomy import load_taxonomy

        tax = load_taxonomy(settings.taxonomy_path)
        return {label: tax.issue_name(label) for label in tax.issue_type_ids}
    except Exception:  # noqa: BLE001 - names are cosmetic; fall back to labels
        return {}


# ---------------------------------------------------------------------------------------------- the job
def run_alerts(settings: Settings, events: pd.DataFrame, config: AlertRunConfig, *,
               progress: ProgressHook = _no_progress, store: AlertStore | None = None,
               topic_model=None, now: datetime | None = None) -> AlertRunReport:
    """Detect spikes in ``events`` (from :func:`load_events_file`/:func:`load_events_db`) and record them."""
    n_events = len(events)
    ev = events[events["complaint"].astype(bool)].copy()
    ev = ev[ev["product_id"].notna() & (ev["product_id"].astype(str).str.strip() != "") & ev["timestamp"].notna()]
    ev["product_id"] = ev["product_id"].astype(str)
    ev = ev.reset_index(drop=True)
    report = AlertRunReport(n_events=n_events, n_complaints=len(ev))
    if ev.empty:
        report.warnings.append("没有可用的投诉事件 no complaint events (need product_id and created_at)")
        return report
    if config.end is not None:  # naive = wall-clock in tz
        last = pd.Timestamp(config.end)
        last = last if last.tzinfo is None else last.tz_convert(config.tz).tz_localize(None)
    else:
        last = ev["timestamp"].max().normalize() + pd.Timedelta(days=1)
    start = (last - pd.Timedelta(config.lookback)).normalize()
    window = pd.Timedelta(days=config.window_days)
    n_windows = int((last - start) // window)
    if n_windows <= min(4, config.baseline_windows):
        report.warnings.append(f"回看范围只有 {n_windows} 个完整窗口, 不足以建立基线 only {n_windows} complete "
                               f"windows in the look-back range: no baseline, nothing can be flagged")
    ev = ev[(ev["timestamp"] >= start) & (ev["timestamp"] < last)].reset_index(drop=True)
    report.n_complaints = len(ev)
    report.window_start = pd.Timestamp(last - window).tz_localize(config.tz).to_pydatetime()
    report.window_end = pd.Timestamp(last).tz_localize(config.tz).to_pydatetime()
    if ev.empty:
        report.warnings.append("时间范围内没有投诉 no complaints in the look-back range")
        return report

    store = store or _default_store(settings)
    kinds = ["topic", "issue_type"] if config.by == "both" else [config.by]

    for kind in kinds:
        if kind == "topic":
            keyed, meta = _topic_keys(settings, ev, config, progress, topic_model, report)
            if keyed is None:
                continue
        else:
            keyed, meta = _issue_keys(settings, ev)
        cfg = config.spike_config(meta["safety"])
        advance = progress(f"检测突增 detecting spikes ({kind})", 1)
        found = detect_spikes(keyed, cfg, end=last, start=start, exclude_keys={"-1"} if kind == "topic" else set())
        advance(1)
        report.detections[kind] = len(found)
        if not found:
            continue
        examples, keywords = {}, {}
        advance = progress(f"整理示例 collecting examples ({kind})", len(found))
        for d in found:
            in_window = keyed[(keyed["product_id"] == d.product_id) & (keyed["key"] == d.key)
                              & (keyed["timestamp"] >= d.window_start) & (keyed["timestamp"] < d.window_end)]
            in_window = in_window.sort_values("timestamp", ascending=False)
            examples[(d.product_id, d.key)] = list(dict.fromkeys(in_window["text"].tolist()))[:EXAMPLES_PER_ALERT * 2]
            if kind == "issue_type":
                keywords[(d.product_id, d.key)] = _top_keywords(in_window["text"].tolist(),
                                                                in_window["keywords"].tolist())
            advance(1)
        if kind == "topic":
            keywords = meta["keywords"]
        localized = [_localize(d, config.tz) for d in found]
        report.results += store.record(localized, key_kind=kind, titles=meta["titles"], keywords=keywords,
                                       examples=examples, issue_types=meta["issue_types"], now=now)
    return report


def _default_store(settings: Settings) -> AlertStore:
    from inference.storage.engine import Database

    return AlertStore(Database(settings.database_url, migrate=settings.auto_migrate), settings)


def _issue_keys(settings: Settings, ev: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    keyed = ev.explode("issue_types").rename(columns={"issue_types": "key"})
    keyed = keyed[keyed["key"].notna()].reset_index(drop=True)
    keyed["key"] = keyed["key"].astype(str)
    names = _issue_names(settings)
    keys = sorted(set(keyed["key"]))
    meta = {"titles": {k: names.get(k, k) for k in keys}, "issue_types": {k: [k] for k in keys},
            "keywords": {}, "safety": {SAFETY_ISSUE}}
    return keyed, meta


def _topic_keys(settings: Settings, ev: pd.DataFrame, config: AlertRunConfig, progress: ProgressHook,
                topic_model, report: AlertRunReport) -> tuple[pd.DataFrame | None, dict]:
    if topic_model is None:
        try:
            from training.topics import load_topic_model

            topic_model = load_topic_model(settings, config.topics_model_uri)
        except Exception as exc:  # noqa: BLE001 - no champion yet is an expected state
            msg = (f"主题模型不可用 no topic model ({config.topics_model_uri or 'feedback-topics@champion'}): "
                   f"{type(exc).__name__}: {str(exc)[:200]}")
            if config.by == "topic":
                raise RuntimeError(msg) from exc
            report.warnings.append(msg + " — 仅按问题类型检测 issue types only")
            return None, {}
    texts = ev["text"].tolist()
    advance = progress("分配主题 assigning topics", len(texts))
    topics, _ = topic_model.transform(texts, advance=advance)
    keyed = ev.assign(key=[str(int(t)) for t in topics])
    info = {int(t["topic"]): t for t in topic_model.topic_info()}
    titles, keywords, issue_types, safety = {}, {}, {}, set()
    for tid, t in info.items():
        key = str(tid)
        titles[key] = t["name"]
        keywords[key] = list(t["keywords"])[:KEYWORDS_PER_ALERT]
        issue_types[key] = [x["issue_type"] for x in t.get("issue_types", [])]
        if tid != -1 and SAFETY_ISSUE in issue_types[key]:
            safety.add(key)
    return keyed, {"titles": titles, "keywords": keywords, "issue_types": issue_types, "safety": safety}
