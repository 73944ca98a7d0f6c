"""The champion gate's choice of texts and its decision, without training anything."""

from training import gate
from training.seen_texts import fingerprint


def test_no_worse_compares_each_gate_metric():
    metrics = ("a", "b")
    assert gate.no_worse({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.4}, metrics)
    assert not gate.no_worse({"a": 0.5, "b": 0.3}, {"a": 0.5, "b": 0.4}, metrics)
    assert gate.no_worse({"a": 0.5}, {}, metrics)


def test_gate_split_for_champions_without_a_record():
    texts = ["屏幕坏了", "物流太慢", "很好用"]
    candidate_seen = frozenset({fingerprint("很好用")})
    recorded = gate.gate_split(texts, "3", frozenset({fingerprint("屏幕坏了")}), candidate_seen, False)
    assert recorded.rows == [1] and recorded.excluded == 2
    same = gate.gate_split(texts, "3", None, frozenset(), champion_on_same_data=True)
    assert same.rows == [0, 1, 2] and "same corpus version" in same.basis
    other = gate.gate_split(texts, "3", None, frozenset(), champion_on_same_data=False)
    assert other.rows == [0, 1, 2] and "may have seen" in other.basis
    # a full-width or traditional-script copy of a training text is the same text
    assert fingerprint("屏幕壞了!") == fingerprint("屏幕坏了！")


def test_gate_decides_only_on_enough_unseen_texts():
    split = gate.GateSplit(rows=list(range(150)), excluded=50, basis="150 test texts")
    better, worse = {"m": 0.9}, {"m": 0.8}
    assert not gate.decide(better, worse, ("m",), split, "1", min_examples=200).promoted
    assert gate.decide(better, worse, ("m",), split, "1", min_examples=100).promoted
    assert not gate.decide(worse, better, ("m",), split, "1", min_examples=100).promoted
    nothing_left_out = gate.GateSplit(rows=list(range(20)), excluded=0, basis="20 test texts")
    assert gate.decide(better, worse, ("m",), nothing_left_out, "1", min_examples=200).promoted
