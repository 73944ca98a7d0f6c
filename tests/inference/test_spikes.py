"""Spike detection over product × key count series."""

import numpy as np
import pandas as pd
import pytest

from inference.alerting import SpikeConfig, count_matrix, detect_spikes, detections_frame

START = pd.Timestamp("2026-01-05")  # a Monday
WEEK = pd.Timedelta(days=7)


def _events(counts: dict[tuple[str, str], list[int]], seed: int = 0) -> pd.DataFrame:
    """Events with the given count per week for each (product, key), at random times inside each week."""
    rng = np.random.default_rng(seed)
    rows = []
    for (product, key), weekly in counts.items():
        for w, n in enumerate(weekly):
            offsets = rng.uniform(0, WEEK.total_seconds(), size=n)
            rows += [(START + w * WEEK + pd.Timedelta(seconds=float(o)), product, key) for o in offsets]
    return pd.DataFrame(rows, columns=["timestamp", "product_id", "key"])


def _end(weeks: int) -> pd.Timestamp:
    return START + weeks * WEEK


def detect(ev, weeks, **kw):
    return detect_spikes(ev, end=_end(weeks), start=START, **kw)


def test_count_matrix_bins_complete_windows_oldest_first():
    ev = _events({("p1", "a"): [1, 2, 3], ("p2", "b"): [0, 0, 4]})
    counts, starts = count_matrix(ev, window=WEEK, end=_end(3), start=START)
    assert starts == [START, START + WEEK, START + 2 * WEEK]
    assert counts.loc[("p1", "a")].tolist() == [1, 2, 3]
    assert counts.loc[("p2", "b")].tolist() == [0, 0, 4]


def test_partial_first_window_is_dropped():
    ev = _events({("p1", "a"): [5, 5, 5]})
    counts, starts = count_matrix(ev, window=WEEK, end=_end(3), start=START + pd.Timedelta(days=2))
    assert len(starts) == 2 and counts.shape[1] == 2


def test_clear_spike_in_latest_window_is_flagged_with_trend():
    ev = _events({("p1", "screen"): [4, 5, 3, 4, 5, 4, 30], ("p1", "battery"): [4, 5, 3, 4, 5, 4, 5]})
    found = detect(ev, 7)
    assert len(found) == 1
    d = found[0]
    assert (d.product_id, d.key, d.count) == ("p1", "screen", 30)
    assert d.window_start == START + 6 * WEEK and d.window_end == _end(7)
    assert d.baseline_mean == pytest.approx(25 / 6)
    assert d.ratio == pytest.approx(30 / (25 / 6))
    assert d.p_value < 1e-10 and d.z > 10
    assert d.severity == "critical"  # ratio ≥ 5 and count ≥ 2 × min_count
    assert not d.is_new and not d.is_safety
    assert [c for _, c in d.series] == [4, 5, 3, 4, 5, 4, 30]
    assert d.to_dict()["window_start"].startswith("2026-02-16")


def test_minimum_volume_blocks_small_spikes_but_safety_keys_use_lower_floor():
    ev = _events({("p1", "noise"): [0, 1, 0, 1, 0, 1, 6], ("p1", "safety_hazard"): [0, 1, 0, 1, 0, 1, 6]})
    found = detect(ev, 7, safety_keys={"safety_hazard"})
    assert [(d.key, d.severity, d.is_safety) for d in found] == [("safety_hazard", "critical", True)]
    # the same series without the safety designation is under the volume floor
    assert detect(ev, 7) == []


def test_new_key_is_flagged():
    ev = _events({("p1", "smell"): [0, 0, 0, 0, 0, 0, 12], ("p1", "old"): [3, 3, 3, 3, 3, 3, 3]})
    found = detect(ev, 7)
    assert len(found) == 1
    assert found[0].key == "smell" and found[0].is_new and found[0].ratio == float("inf")
    assert found[0].severity == "major"


def test_new_safety_key_below_poisson_significance_is_still_flagged_as_new():
    ev = _events({("p1", "safety_hazard"): [0, 0, 0, 0, 0, 0, 3]})
    found = detect(ev, 7, safety_keys={"safety_hazard"})
    assert len(found) == 1 and found[0].is_new and found[0].p_value > 1e-2


def test_ratio_gate_and_sensitivity():
    # baseline 40/week, current 75: significant at alpha=1e-3 but ratio 1.9 < 2
    ev = _events({("p1", "a"): [40, 40, 40, 40, 40, 40, 75]})
    assert detect(ev, 7) == []
    assert len(detect(ev, 7, min_ratio=1.5)) == 1
    # sensitivity: a moderate spike passes at alpha=1e-2 but not at 1e-6
    ev2 = _events({("p1", "a"): [5, 5, 5, 5, 5, 5, 14]})
    assert len(detect(ev2, 7, alpha=1e-2)) == 1
    assert detect(ev2, 7, alpha=1e-6) == []


def test_severity_minor_for_modest_ratio():
    ev = _events({("p1", "a"): [8, 8, 8, 8, 8, 8, 20]})
    (d,) = detect(ev, 7, alpha=1e-2)
    assert d.ratio == pytest.approx(2.5) and d.severity == "minor"


def test_partial_first_week_from_default_start_is_not_a_baseline_window():
    ev = _events({("p1", "a"): [2, 2, 2, 2, 40]})  # events start somewhere inside week 0
    assert detect_spikes(ev, end=_end(5)) == []  # 3 complete baseline windows < 4
    assert len(detect_spikes(ev, end=_end(5), start=START)) == 1


def test_needs_enough_baseline_windows():
    ev = _events({("p1", "a"): [2, 2, 2, 40]})
    assert detect(ev, 4) == []  # 3 baseline windows < min_baseline_windows=4
    assert len(detect(ev, 4, min_baseline_windows=3)) == 1


def test_backfill_reports_each_window_and_latest_only_by_default():
    ev = _events({("p1", "a"): [3, 3, 3, 3, 3, 30, 3, 3]})
    assert detect(ev, 8) == []
    found = detect(ev, 8, backfill=True)
    assert [(d.window_start, d.count) for d in found] == [(START + 5 * WEEK, 30)]
    assert len(found[0].series) == 6  # five baseline windows available + the spike window


def test_exclude_keys_and_integer_topic_keys():
    ev = _events({("p1", -1): [2, 2, 2, 2, 2, 2, 40], ("p1", 3): [2, 2, 2, 2, 2, 2, 40]})
    found = detect(ev, 7, exclude_keys={-1})
    assert [d.key for d in found] == [3]


def test_empty_input_and_bad_config():
    assert detect_spikes(pd.DataFrame(columns=["timestamp", "product_id", "key"])) == []
    with pytest.raises(ValueError):
        SpikeConfig(min_baseline_windows=8, baseline_windows=4)
    with pytest.raises(ValueError):
        SpikeConfig(alpha=0)


def test_default_end_is_day_after_last_event_and_custom_columns():
    ev = _events({("p1", "a"): [3, 3, 3, 3, 3, 3, 30]}).rename(
        columns={"timestamp": "ts", "product_id": "sku", "key": "topic"})
    ev.loc[len(ev)] = [START + 7 * WEEK - pd.Timedelta(hours=1), "p1", "a"]  # last event: day 49
    found = detect_spikes(ev, timestamp_col="ts", product_col="sku", key_col="topic")
    assert len(found) == 1 and found[0].window_end == _end(7)
    assert set(detections_frame(found).columns) >= {"product_id", "key", "count", "severity", "p_value"}


@pytest.mark.parametrize("rate", [0.5, 3.0, 6.0, 12.0, 40.0])
def test_stationary_poisson_series_raise_no_alerts(rate):
    """4,000 stationary series per rate, every window backfilled (24,000 tests): false alarms stay
    under half of what alpha = 1e-3 allows (measured over 5 seeds × 8 rates: at most 2.3e-4 per test)."""
    rng = np.random.default_rng(int(rate * 100))
    n_series, n_weeks = 4000, 10
    counts = rng.poisson(rate, size=(n_series, n_weeks))
    product = np.repeat(np.arange(n_series), n_weeks)
    week = np.tile(np.arange(n_weeks), n_series)
    reps = counts.ravel()
    ts = START + pd.to_timedelta(np.repeat(week, reps) * 7 + 3, unit="D")
    ev = pd.DataFrame({"timestamp": ts, "product_id": np.repeat(product, reps), "key": "k"})
    found = detect_spikes(ev, end=_end(n_weeks), start=START, backfill=True)
    tests = n_series * (n_weeks - 4)
    assert len(found) <= 0.5e-3 * tests, (rate, len(found), tests)
    # and the latest window alone (the production mode): no alert at all in 4,000 series
    assert len(detect_spikes(ev, end=_end(n_weeks), start=START)) <= 2


def test_stationary_poisson_safety_keys_stay_quiet_too():
    rng = np.random.default_rng(11)
    n_series, n_weeks = 2000, 8
    counts = rng.poisson(2.0, size=(n_series, n_weeks))
    product = np.repeat(np.arange(n_series), n_weeks)
    week = np.tile(np.arange(n_weeks), n_series)
    reps = counts.ravel()
    ev = pd.DataFrame({"timestamp": START + pd.to_timedelta(np.repeat(week, reps) * 7 + 1, unit="D"),
                       "product_id": np.repeat(product, reps), "key": "safety_hazard"})
    found = detect_spikes(ev, end=_end(n_weeks), start=START, safety_keys={"safety_hazard"})
    # safety keys trade sensitivity (floor 3, alpha 1e-2) for some false alarms: < 0.5% of series
    assert len(found) <= 0.005 * n_series
