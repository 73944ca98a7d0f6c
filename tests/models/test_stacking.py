"""The second stage: what it learns from the other heads, what it leaves alone, and that it survives saving."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from models.heads import tune_thresholds
from models.stacking import HeadStacker

SENTIMENT = ["negative", "neutral", "positive"]


def _world(n: int, seed: int):
    """Label 0 (think `logistics`) fires on a word that praise and complaints share: the issue head's
    probability is high for both, and only the sentiment tells a complaint from praise. Label 1 never
    occurs; label 2 (think `safety_hazard`) is what makes a text critical, though the urgency head is
    blind to it. Sentiment and urgency are class indices in head order."""
    rng = np.random.default_rng(seed)
    mentions, praise, hazard = rng.random(n) < 0.5, rng.random(n) < 0.5, rng.random(n) < 0.2
    Y = np.zeros((n, 3), dtype=int)
    Y[:, 0] = mentions & ~praise
    Y[:, 2] = hazard
    issue = np.column_stack([
        np.where(mentions, rng.uniform(0.6, 0.95, n), rng.uniform(0.02, 0.3, n)),
        np.zeros(n),
        np.where(hazard, rng.uniform(0.6, 0.95, n), rng.uniform(0.02, 0.3, n)),
    ])
    p_pos = np.where(praise, rng.uniform(0.6, 0.95, n), rng.uniform(0.02, 0.3, n))
    sentiment = np.column_stack([1.0 - p_pos - 0.01, np.full(n, 0.01), p_pos])
    y_sentiment = np.where(praise, 2, 0)
    urgency = np.tile([0.25, 0.25, 0.25, 0.25], (n, 1))
    y_urgency = np.where(hazard, 0, 3)
    return (issue, sentiment, urgency), Y, y_sentiment, y_urgency


def test_issue_types_tell_a_complaint_from_praise_that_uses_the_same_words():
    heads, Y, ys, yu = _world(2000, seed=0)
    test_heads, test_Y, _, _ = _world(2000, seed=1)
    stacker = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    raw_t = tune_thresholds(heads[0], Y, np.full(3, 0.5))
    stacked_t = tune_thresholds(stacker.predict_proba(*heads)[0], Y, np.full(3, 0.5))
    raw = (test_heads[0] >= raw_t).astype(int)
    stacked = (stacker.predict_proba(*test_heads)[0] >= stacked_t).astype(int)
    assert f1_score(test_Y[:, 0], raw[:, 0]) < 0.75  # the words alone flag praise too
    assert f1_score(test_Y[:, 0], stacked[:, 0]) > 0.95
    assert f1_score(test_Y[:, 2], stacked[:, 2]) >= f1_score(test_Y[:, 2], raw[:, 2]) - 0.02


def test_urgency_learns_from_the_issue_head_and_probabilities_stay_in_head_order():
    heads, Y, ys, yu = _world(2000, seed=2)
    test_heads, _, _, test_yu = _world(1000, seed=3)
    issue, sentiment, urgency = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu).predict_proba(*test_heads)
    assert urgency.shape == (1000, 4) and np.allclose(urgency.sum(axis=1), 1.0)
    assert (urgency[:, [1, 2]] == 0).all()  # levels never seen get no probability
    assert np.mean(urgency.argmax(axis=1) == test_yu) > 0.95  # the first stage was blind: 0.8 at best
    assert sentiment.shape == (1000, 3) and (sentiment[:, 1] == 0).all()


def test_a_label_or_head_with_one_class_keeps_the_first_stage():
    heads, Y, ys, _ = _world(500, seed=4)
    stacker = HeadStacker(SENTIMENT).fit(*heads, Y, ys, np.full(500, 3))
    assert stacker.issue["fitted"].tolist() == [True, False, True] and stacker.urgency is None
    issue, sentiment, urgency = (a.copy() for a in heads)
    issue[:, 1] = np.linspace(0.0, 1.0, len(issue))  # whatever the head says, it passes through
    out = stacker.predict_proba(issue, sentiment, urgency)
    np.testing.assert_array_equal(out[0][:, 1], issue[:, 1])
    np.testing.assert_array_equal(out[2], urgency)


def test_saved_as_plain_lists_it_predicts_the_same():
    heads, Y, ys, yu = _world(400, seed=5)
    stacker = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    again = HeadStacker.from_dict(stacker.to_dict())
    for a, b in zip(again.predict_proba(*heads), stacker.predict_proba(*heads), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [a.shape for a in again.predict_proba(*(h[:0] for h in heads))] == [(0, 3), (0, 3), (0, 4)]


def test_needs_the_polar_sentiment_classes_and_a_fit():
    with pytest.raises(ValueError, match="positive"):
        HeadStacker(["bad", "neutral", "good"])
    with pytest.raises(RuntimeError, match="not fitted"):
        HeadStacker(SENTIMENT).predict_proba(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 4)))


CUES = {"safety": "漏电|起火|烫伤", "legal": "12315|律师"}


def _cue_world(n: int, seed: int):
    """The heads cannot see a hazard (their label-2 probability is noise); the text says it with one of
    several rare words that the safety cue pools."""
    rng = np.random.default_rng(seed)
    hazard = rng.random(n) < 0.15
    words = np.array(["漏电了", "起火", "被烫伤"])
    texts = [f"第{i}单 " + (words[i % 3] if h else "还行") for i, h in enumerate(hazard)]
    issue = np.column_stack([rng.uniform(0.02, 0.9, n), rng.uniform(0.02, 0.9, n), rng.uniform(0.02, 0.9, n)])
    sentiment = np.tile([0.4, 0.2, 0.4], (n, 1))
    urgency = np.tile([0.25, 0.25, 0.25, 0.25], (n, 1))
    Y = np.zeros((n, 3), dtype=int)
    Y[:, 2] = hazard
    return texts, (issue, sentiment, urgency), Y, np.zeros(n, dtype=int), np.where(hazard, 0, 2)


def test_cue_flags_let_the_stage_learn_what_the_heads_missed():
    texts, heads, Y, ys, yu = _cue_world(1500, seed=6)
    test_texts, test_heads, test_Y, _, test_yu = _cue_world(800, seed=7)
    with_cues = HeadStacker(SENTIMENT, cues=CUES)
    flags = with_cues.cue_flags(texts)
    assert flags.shape == (1500, 2) and flags[:, 1].sum() == 0 and flags[:, 0].sum() == Y[:, 2].sum()
    with_cues.fit(*heads, Y, ys, yu, flags)
    issue, _, urgency = with_cues.predict_proba(*test_heads, with_cues.cue_flags(test_texts))
    assert f1_score(test_Y[:, 2], issue[:, 2] >= 0.5) > 0.95
    blind = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    assert f1_score(test_Y[:, 2], blind.predict_proba(*test_heads)[0][:, 2] >= 0.5) < 0.5
    # urgency and sentiment read no cues: the same as a stage without them
    np.testing.assert_array_equal(urgency, blind.predict_proba(*test_heads)[2])
    with pytest.raises(ValueError, match="cue_flags"):
        with_cues.predict_proba(*test_heads)
    with pytest.raises(ValueError, match="shape"):
        with_cues.predict_proba(*test_heads, np.zeros((800, 1)))


def test_a_stage_with_cues_survives_pickle_and_plain_lists():
    import pickle

    texts, heads, Y, ys, yu = _cue_world(400, seed=8)
    stacker = HeadStacker(SENTIMENT, cues=CUES)
    stacker.fit(*heads, Y, ys, yu, stacker.cue_flags(texts))
    want = stacker.predict_proba(*heads, stacker.cue_flags(texts))
    for again in (HeadStacker.from_dict(stacker.to_dict()), pickle.loads(pickle.dumps(stacker))):
        assert again.uses_cues and again.cue_flags.cues == CUES
        for a, b in zip(again.predict_proba(*heads, again.cue_flags(texts)), want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not HeadStacker.from_dict(HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu).to_dict()).uses_cues


def _length_world(n: int, seed: int):
    """Critical texts are long; a short text the urgency head is unsure of is not critical. The first
    stage gives both the same uncertain probabilities: only the length tells them apart."""
    rng = np.random.default_rng(seed)
    critical = rng.random(n) < 0.2
    lengths = np.where(critical, rng.integers(40, 200, n), rng.integers(3, 60, n)).astype(float)
    issue = rng.uniform(0.02, 0.9, (n, 3))
    sentiment = np.tile([0.4, 0.2, 0.4], (n, 1))
    p_critical = np.where(critical | (lengths < 20), rng.uniform(0.05, 0.4, n), rng.uniform(0.0, 0.1, n))
    urgency = np.column_stack([p_critical, np.full(n, 0.05), np.full(n, 0.05), 0.9 - p_critical])
    return (issue, sentiment, urgency), np.zeros((n, 3), dtype=int), np.zeros(n, dtype=int), np.where(critical, 0, 3), lengths


def test_the_urgency_stage_reads_the_length_and_only_urgency_changes():
    heads, Y, ys, yu, lengths = _length_world(2000, seed=9)
    test_heads, _, _, test_yu, test_lengths = _length_world(1000, seed=10)
    with_length = HeadStacker(SENTIMENT, length=True).fit(*heads, Y, ys, yu, lengths=lengths)
    blind = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    got, want = with_length.predict_proba(*test_heads, lengths=test_lengths), blind.predict_proba(*test_heads)
    short = (test_lengths < 20) & (test_yu != 0)
    assert got[2][short, 0].mean() < 0.5 * want[2][short, 0].mean()  # short uncertain texts: not critical
    assert np.mean(got[2].argmax(axis=1) == test_yu) > np.mean(want[2].argmax(axis=1) == test_yu) + 0.05
    for a, b in zip(got[:2], want[:2], strict=True):  # issue types and sentiment read no length
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="lengths"):
        with_length.predict_proba(*test_heads)
    with pytest.raises(ValueError, match="shape"):
        with_length.predict_proba(*test_heads, lengths=test_lengths[:5])


def test_a_stage_with_length_survives_pickle_and_plain_lists_and_old_stages_read_none():
    import pickle

    heads, Y, ys, yu, lengths = _length_world(400, seed=11)
    stacker = HeadStacker(SENTIMENT, length=True).fit(*heads, Y, ys, yu, lengths=lengths)
    want = stacker.predict_proba(*heads, lengths=lengths)
    for again in (HeadStacker.from_dict(stacker.to_dict()), pickle.loads(pickle.dumps(stacker))):
        assert again.uses_length
        for a, b in zip(again.predict_proba(*heads, lengths=lengths), want, strict=True):
            np.testing.assert_array_equal(a, b)
    old = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    del old.__dict__["uses_length"]  # a stage pickled before lengths existed
    state = old.to_dict()
    assert state["length"] is False
    del state["length"]
    for again in (pickle.loads(pickle.dumps(old)), HeadStacker.from_dict(state)):
        for a, b in zip(again.predict_proba(*heads), old.predict_proba(*heads), strict=True):
            np.testing.assert_array_equal(a, b)


def test_text_lengths_ignore_what_normalisation_removes():
    from models.stacking import text_lengths

    plain = "这个杯子有点漏水"
    variants = [plain, "這個杯子有點漏水😅", "这个杯子有点漏水 订单号 2026120712345678", "这个杯子有点漏水 13800138000"]
    assert text_lengths(variants).tolist() == [8.0] * 4


def test_each_part_of_the_stage_can_learn_from_its_own_rows():
    heads, Y, ys, yu = _world(1200, seed=12)
    keep = np.arange(1200) < 800  # think: the real texts; the rest are authored
    subset = HeadStacker(SENTIMENT).fit(*(h[keep] for h in heads), Y[keep], ys[keep], yu[keep])
    everything = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu)
    test_heads, _, _, _ = _world(300, seed=13)
    from_subset, from_all = (s.predict_proba(*test_heads) for s in (subset, everything))
    assert not any(np.allclose(a, b) for a, b in zip(from_subset, from_all, strict=True))
    parts = ("issue", "sentiment", "urgency")
    for limited in [("issue", "sentiment"), ("sentiment", "urgency"), ("sentiment",), ("issue",)]:
        split = HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu, **{f"{name}_rows": keep for name in limited})
        for k, (name, got) in enumerate(zip(parts, split.predict_proba(*test_heads), strict=True)):
            np.testing.assert_allclose(got, (from_subset if name in limited else from_all)[k], err_msg=name)
    with pytest.raises(ValueError, match="urgency_rows"):
        HeadStacker(SENTIMENT).fit(*heads, Y, ys, yu, urgency_rows=keep[:10])


def _threat_world(n: int, seed: int):
    """Label 2 (think `safety_hazard`) is read by its head, and the urgency head's P(critical) is high for
    hazards and for threats alike (think 再不退款就打12315): a stage whose issue types read urgency lends the
    threats the hazard's label whenever its own head is unsure."""
    (issue, sentiment, _urgency), Y, ys, _yu = _world(n, seed)
    rng = np.random.default_rng(seed + 100)
    hazard = Y[:, 2] == 1
    threat = ~hazard & (rng.random(n) < 0.2)
    issue[:, 2] = np.where(hazard, rng.uniform(0.3, 0.95, n), rng.uniform(0.02, 0.45, n))
    critical = np.where(hazard | threat, rng.uniform(0.5, 0.9, n), rng.uniform(0.01, 0.1, n))
    urgency = np.column_stack([critical, (1 - critical) / 3, (1 - critical) / 3, (1 - critical) / 3])
    yu = np.where(hazard | threat, 0, 3)
    return (issue, sentiment, urgency), Y, ys, yu, threat


def test_a_blind_issue_type_ignores_urgency_and_the_others_are_unchanged():
    import pickle

    heads, Y, ys, yu, _ = _threat_world(2000, seed=21)
    blind, reading = (HeadStacker(SENTIMENT, urgency_blind=cols).fit(*heads, Y, ys, yu) for cols in ([2], ()))
    assert blind.urgency_blind == (2,) and reading.urgency_blind == ()
    test_heads, _, _, _, _ = _threat_world(500, seed=22)
    flipped = (test_heads[0], test_heads[1], test_heads[2][:, ::-1])
    got, got_flipped, want = blind.predict_proba(*test_heads), blind.predict_proba(*flipped), reading.predict_proba(*test_heads)
    np.testing.assert_array_equal(got[0][:, 2], got_flipped[0][:, 2])  # what urgency says cannot move it
    assert not np.allclose(want[0][:, 2], reading.predict_proba(*flipped)[0][:, 2])  # it moved the reading one
    np.testing.assert_allclose(got[0][:, :2], want[0][:, :2])  # the other labels are the same fit
    for a, b in zip(got[1:], want[1:], strict=True):  # and so are sentiment and urgency
        np.testing.assert_allclose(a, b)
    state = blind.to_dict()
    assert state["urgency_blind"] == [2]
    del reading.__dict__["urgency_blind"]  # a stage pickled before blind labels existed
    old_state = reading.to_dict()
    del old_state["urgency_blind"]
    pairs = [(pickle.loads(pickle.dumps(blind)), got), (HeadStacker.from_dict(state), got),
             (pickle.loads(pickle.dumps(reading)), want), (HeadStacker.from_dict(old_state), want)]
    for again, expected in pairs:
        for a, b in zip(again.predict_proba(*test_heads), expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_threats_the_urgency_head_makes_critical_do_not_read_as_hazards_to_a_blind_hazard_label():
    heads, Y, ys, yu, _ = _threat_world(3000, seed=23)
    test_heads, test_Y, _, _, threat = _threat_world(3000, seed=24)
    blind, reading = (HeadStacker(SENTIMENT, urgency_blind=cols).fit(*heads, Y, ys, yu) for cols in ([2], ()))
    false_hazard = [np.mean(s.predict_proba(*test_heads)[0][threat, 2] >= 0.5) for s in (blind, reading)]
    assert false_hazard[0] < 0.5 * false_hazard[1]
    hazard = test_Y[:, 2] == 1
    recall = [np.mean(s.predict_proba(*test_heads)[0][hazard, 2] >= 0.5) for s in (blind, reading)]
    assert recall[0] > 0.5  # the hazard head's own reading still finds them


def _threat_word_world(n: int, seed: int, threats_come_with_hazards: bool):
    """Label 2 (a hazard) is said with a safety word; a threat word (12315) comes with most hazards in the
    training texts, as in the authored chat messages, but not in the texts scored later."""
    rng = np.random.default_rng(seed)
    hazard = rng.random(n) < 0.2
    threat = np.where(hazard, rng.random(n) < 0.8, rng.random(n) < 0.05) if threats_come_with_hazards \
        else rng.random(n) < 0.3
    texts = [f"第{i}单 " + ("起火" if h and i % 2 else "") + ("打12315" if t else "") + "还行"
             for i, (h, t) in enumerate(zip(hazard, threat, strict=True))]
    issue = np.column_stack([rng.uniform(0.02, 0.9, n), rng.uniform(0.02, 0.9, n),
                             np.where(hazard, rng.uniform(0.3, 0.9, n), rng.uniform(0.02, 0.6, n))])
    sentiment, urgency = np.tile([0.4, 0.2, 0.4], (n, 1)), np.tile([0.25, 0.25, 0.25, 0.25], (n, 1))
    Y = np.zeros((n, 3), dtype=int)
    Y[:, 0], Y[:, 2] = threat & (rng.random(n) < 0.5), hazard
    return texts, (issue, sentiment, urgency), Y, np.zeros(n, dtype=int), np.where(hazard | threat, 0, 2), threat, hazard


def test_a_blind_issue_type_ignores_the_threat_cues_and_the_others_still_read_them():
    import pickle

    texts, heads, Y, ys, yu, _, _ = _threat_word_world(3000, seed=31, threats_come_with_hazards=True)
    legal = list(CUES).index("legal")
    blind, reading = (HeadStacker(SENTIMENT, cues=CUES, urgency_blind=[2], urgency_blind_cues=cues)
                      for cues in ([legal], ()))
    flags = blind.cue_flags(texts)
    blind.fit(*heads, Y, ys, yu, flags)
    reading.fit(*heads, Y, ys, yu, flags)
    assert blind.blind_cue_names() == ["legal"] and reading.blind_cue_names() == []
    test_texts, test_heads, _, _, _, threat, hazard = _threat_word_world(3000, seed=32, threats_come_with_hazards=False)
    test_flags = blind.cue_flags(test_texts)
    got, want = blind.predict_proba(*test_heads, test_flags), reading.predict_proba(*test_heads, test_flags)
    # threats without a hazard: the reading stage calls a share of them hazards, the blind one far fewer
    false_hazard = [np.mean(p[0][threat & ~hazard, 2] >= 0.5) for p in (got, want)]
    assert false_hazard[1] > 0.2 and false_hazard[0] < 0.5 * false_hazard[1]
    # flipping the threat cue cannot move the blind label; label 0 still reads it, as fitted alike
    flipped = test_flags.copy()
    flipped[:, legal] = 1 - flipped[:, legal]
    np.testing.assert_array_equal(got[0][:, 2], blind.predict_proba(*test_heads, flipped)[0][:, 2])
    assert not np.allclose(got[0][:, 0], blind.predict_proba(*test_heads, flipped)[0][:, 0])
    np.testing.assert_allclose(got[0][:, :2], want[0][:, :2])
    state = blind.to_dict()
    assert state["urgency_blind_cues"] == [legal]
    old_state = reading.to_dict()
    del old_state["urgency_blind_cues"]  # a stage saved before blind cues existed
    del reading.__dict__["urgency_blind_cues"]
    for again, expected in [(pickle.loads(pickle.dumps(blind)), got), (HeadStacker.from_dict(state), got),
                            (pickle.loads(pickle.dumps(reading)), want), (HeadStacker.from_dict(old_state), want)]:
        for a, b in zip(again.predict_proba(*test_heads, test_flags), expected, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="urgency_blind_cues"):
        HeadStacker(SENTIMENT, cues=CUES, urgency_blind=[2], urgency_blind_cues=[5])
    with pytest.raises(ValueError, match="urgency_blind_cues"):
        HeadStacker(SENTIMENT, urgency_blind=[2], urgency_blind_cues=[0])  # no cues to be blind to
