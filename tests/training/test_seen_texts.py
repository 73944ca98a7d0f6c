"""Seen-text records: what a run trained on, logged with it and read back."""

import mlflow

from tests.conftest import make_settings
from training import seen_texts, tracking


def test_fingerprint_sees_through_width_script_and_numbers():
    assert seen_texts.fingerprint("屏幕壞了!") == seen_texts.fingerprint("屏幕坏了！")
    assert seen_texts.fingerprint("订单号 123456789012 还没发货") == seen_texts.fingerprint("订单号 987654321098 还没发货")
    assert seen_texts.fingerprint("屏幕坏了") != seen_texts.fingerprint("屏幕好了")
    assert len(seen_texts.fingerprint("x")) == 16


def test_split_by_seen_keeps_order():
    seen = seen_texts.fingerprints(["b", "d"])
    assert seen_texts.split_by_seen(["a", "b", "c", "D"], seen) == ([0, 2], [1, 3])


def test_log_and_load_round_trip(tmp_path):
    settings = make_settings(tmp_path)
    experiment = tracking.configure(settings)
    with mlflow.start_run(experiment_id=experiment) as recorded:
        n = seen_texts.log_seen(seen_texts.fingerprints(["屏幕坏了", "屏幕壞了", "物流太慢"]))
    with mlflow.start_run(experiment_id=experiment) as legacy:
        pass
    assert n == 2  # the traditional-script copy is the same text
    assert seen_texts.load_seen(recorded.info.run_id) == seen_texts.fingerprints(["屏幕坏了", "物流太慢"])
    assert seen_texts.load_seen(legacy.info.run_id) is None
    assert seen_texts.load_seen(None) is None
